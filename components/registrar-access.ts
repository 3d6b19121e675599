// What the registrar's cluster needs before its workload arrives: a namespace and Secrets
// with the Redis primary (the registrar is the only writer). Swarm endpoints and Docker
// client credentials are added per swarm.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { RedisEndpoint } from "./directory-store";
import { RESTRICTED_NAMESPACE_LABELS } from "./pod-security";

export const REGISTRAR_NAMESPACE = "registrar";

export interface RegistrarAccessArgs {
  provider: k8s.Provider;
  redisPrimary: RedisEndpoint;
  redisAuth: pulumi.Input<string>;
  redisCa: pulumi.Input<string>;
}

export class RegistrarAccess extends pulumi.ComponentResource {
  readonly namespace: pulumi.Output<string>;
  readonly provider: k8s.Provider;

  constructor(name: string, args: RegistrarAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:registrar:RegistrarAccess", name, {}, opts);
    this.provider = args.provider;
    const k = { parent: this, provider: args.provider };
    const ns = new k8s.core.v1.Namespace(
      name,
      {
        metadata: {
          name: REGISTRAR_NAMESPACE,
          labels: { "app.kubernetes.io/part-of": "atplatform", ...RESTRICTED_NAMESPACE_LABELS },
        },
      },
      k,
    );
    this.namespace = ns.metadata.name;
    new k8s.core.v1.Secret(
      `${name}-redis-primary`,
      {
        metadata: { namespace: this.namespace, name: "redis-primary" },
        type: "Opaque",
        stringData: {
          url: pulumi.interpolate`rediss://${args.redisPrimary.host}:${args.redisPrimary.port}`,
          password: pulumi.secret(args.redisAuth),
          "ca.pem": args.redisCa,
        },
      },
      k,
    );
    this.registerOutputs({ namespace: this.namespace });
  }
}
