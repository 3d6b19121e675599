// The Pulumi program: typed config in, the platform out. Everything lives in components/.
import { loadConfig } from "./components/config";
import { createPlatform } from "./components/platform";

const platform = createPlatform(loadConfig());

export const rootAddress = platform.rootAddress;
export const rootIp = platform.rootIp;
export const dnsNameServers = platform.dnsNameServers;
export const clusterName = platform.clusterName;
export const registrarClusterName = platform.registrarClusterName;
export const redisPrimaryEndpoint = platform.redisPrimaryEndpoint;
export const redisReadEndpoint = platform.redisReadEndpoint;
export const redisCa = platform.redisCa;
export const registryUrl = platform.registryUrl;
export const rootCaPem = platform.rootCaPem;
export const nfsServer = platform.nfsServer;
export const swarms = platform.swarms;
export const atServerCaPem = platform.atServerCaPem;
export const images = platform.images;
export const previewRole = platform.previewRole;
export const registrarUrl = platform.registrar?.url;
export const registrarIp = platform.registrar?.ip;
export const registrarApiKey = platform.registrar?.apiKey;
export const registrarAdminKey = platform.registrar?.adminKey;
export const registrarCaPem = platform.registrar?.caPem;
