// A small atPlatform for federation tests: a real atDirectory and N atServers that find
// each other through it, all on loopback with the test CA.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { AtClient } from "@atplatform/protocol";
import { AtServer, resolveConfig, type AtServerConfig } from "@atplatform/atserver";
import { DirectoryServer } from "@atplatform/directory";
import { freePort } from "../support/ports";
import { testTls, type TestTls } from "../support/test-ca";
import { AtServerProcess, SECRET, tempDir } from "./harness";

export interface Platform {
  dir: string;
  tls: TestTls;
  rootPort: number;
  ports: Record<string, number>;
  servers: Record<string, AtServer>;
  procs: Record<string, AtServerProcess>;
  /** A CRAM-authenticated client of `atSign`'s own server. */
  owner(atSign: string): Promise<AtClient>;
  client(atSign: string, opts?: { cert?: string; key?: string }): Promise<AtClient>;
  /** Starts (again) the atServer of `atSign` as a child process on its port and storage. */
  startProcess(atSign: string, extraArgs?: string[]): Promise<AtServerProcess>;
  stop(): Promise<void>;
}

export async function startPlatform(
  atSigns: string[],
  opts: {
    processes?: string[];
    /** Extra command-line flags for every process-run atServer. */
    processArgs?: string[];
    /** Entry script and Node flags of process-run atServers (default: the tsx bin). */
    processEntry?: string;
    processNodeArgs?: string[];
    overrides?: Partial<AtServerConfig>;
    /**
     * atSigns that get a port and a directory record but no atServer: the test runs its
     * own server there (e.g. test/support/malicious-peer.ts).
     */
    external?: string[];
    /** Clock of the in-process atServers (default Date.now). */
    now?: () => number;
  } = {},
): Promise<Platform> {
  const tls = await testTls();
  const dir = tempDir("atplatform-");
  const ports: Record<string, number> = {};
  const listed = [...atSigns, ...(opts.external ?? [])];
  for (const a of listed) ports[a] = await freePort();
  const records = join(dir, "records.txt");
  writeFileSync(
    records,
    listed.map((a) => `${a.slice(1)} 127.0.0.1:${ports[a]}`).join("\n") + "\n",
  );
  const secretFile = join(dir, "secret");
  writeFileSync(secretFile, SECRET);
  const root = await DirectoryServer.create(
    {
      port: 0,
      host: "127.0.0.1",
      cert: tls.files.cert,
      key: tls.files.key,
      records,
      httpPort: -1,
      logLevel: "silent",
    },
    { logger: pino({ level: "silent" }) },
  );
  const rootPort = (await root.start()).port;
  const servers: Record<string, AtServer> = {};
  const procs: Record<string, AtServerProcess> = {};
  const clients: AtClient[] = [];
  const common = () => [
    "--root",
    `127.0.0.1:${rootPort}`,
    "--ca",
    tls.files.ca,
    "--cert-poll-ms",
    "60000",
    ...(opts.processArgs ?? []),
  ];
  const startProcess = async (a: string, extraArgs: string[] = []) => {
    const storage = join(dir, a.slice(1));
    mkdirSync(storage, { recursive: true });
    const p = await AtServerProcess.start({
      storage,
      secretFile,
      port: ports[a],
      atSign: a,
      extraArgs: [...common(), ...extraArgs],
      entry: opts.processEntry,
      nodeArgs: opts.processNodeArgs,
    });
    procs[a] = p;
    await p.ready();
    return p;
  };
  for (const a of atSigns) {
    if (opts.processes?.includes(a)) {
      await startProcess(a);
      continue;
    }
    const cfg = {
      ...resolveConfig(
        {
          atSign: a,
          port: String(ports[a]),
          host: "127.0.0.1",
          cert: tls.files.cert,
          key: tls.files.key,
          ca: tls.files.ca,
          storage: join(dir, a.slice(1)),
          cramSecretFile: secretFile,
          root: `127.0.0.1:${rootPort}`,
        },
        {},
      ),
      ...opts.overrides,
    };
    servers[a] = AtServer.create(cfg, { logger: pino({ level: "silent" }), now: opts.now });
    await servers[a].start();
  }
  const client = async (a: string, o: { cert?: string; key?: string } = {}) => {
    const c = await AtClient.connect({
      host: "127.0.0.1",
      port: ports[a]!,
      ca: tls.ca,
      atSign: a,
      timeoutMs: 10_000,
      ...o,
    });
    clients.push(c);
    return c;
  };
  return {
    dir,
    tls,
    rootPort,
    ports,
    servers,
    procs,
    client,
    async owner(a) {
      const c = await client(a);
      await c.cram(SECRET);
      return c;
    },
    startProcess,
    async stop() {
      for (const c of clients) c.destroy();
      for (const s of Object.values(servers)) await s.stop();
      for (const p of Object.values(procs)) await p.kill();
      await root.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
