// The registrar's swarm orchestrator configuration (REGISTRAR_SWARMS_FILE), as a Kubernetes
// Secret in the registrar cluster, in the exact JSON shape services/registrar parses. The
// per-swarm Secrets `swarm-<name>` hold the PEM files it points at; the registrar
// Deployment (registrar issue) mounts them at SWARM_SECRETS_MOUNT/<name> and this Secret at
// REGISTRAR_CONFIG_MOUNT.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export const SWARM_SECRETS_MOUNT = "/etc/atplatform/swarms";
export const REGISTRAR_CONFIG_MOUNT = "/etc/atplatform/registrar";
export const SWARMS_FILE = `${REGISTRAR_CONFIG_MOUNT}/swarms.json`;

export interface RegistrarSwarmEntry {
  name: string;
  /** `<internal LB IP>:2376` */
  engine: pulumi.Input<string>;
  /** `<swarm>.<domain>`: the host written to the directory for its atServers. */
  publicHost: string;
  firstPort: number;
  lastPort: number;
  /** Where every node mounts the atServer directory of the Filestore share. */
  storageRoot: string;
  /** The peer CA atServers trust (dev private CA), if any. */
  withAtServerCa: boolean;
}

export interface RegistrarSwarmsArgs {
  provider: k8s.Provider;
  namespace: pulumi.Input<string>;
  rootAddress: string;
  atServerImage: pulumi.Input<string>;
  swarms: RegistrarSwarmEntry[];
}

export class RegistrarSwarms extends pulumi.ComponentResource {
  readonly json: pulumi.Output<string>;

  constructor(name: string, args: RegistrarSwarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:registrar:RegistrarSwarms", name, {}, opts);
    this.json = pulumi
      .all([args.atServerImage, pulumi.all(args.swarms.map((s) => pulumi.output(s.engine)))])
      .apply(([image, engines]) => {
        const swarms: Record<string, Record<string, string>> = {};
        args.swarms.forEach((s, i) => {
          const dir = `${SWARM_SECRETS_MOUNT}/${s.name}`;
          swarms[s.name] = {
            engine: engines[i]!,
            caFile: `${dir}/ca.pem`,
            certFile: `${dir}/cert.pem`,
            keyFile: `${dir}/key.pem`,
            publicHost: s.publicHost,
            ports: `${s.firstPort}-${s.lastPort}`,
            image,
            storageRoot: s.storageRoot,
            ...(s.withAtServerCa ? { atServerCaFile: `${dir}/atserver-ca.pem` } : {}),
          };
        });
        // The storage jobs run the atServer image too (it has /bin/sh, mkdir, chown and mv):
        // the nodes pre-pull it, and nothing comes from a public registry.
        return JSON.stringify({ rootAddress: args.rootAddress, jobImage: image, swarms }, null, 2);
      });
    new k8s.core.v1.Secret(
      name,
      {
        metadata: { namespace: args.namespace, name: "registrar-swarms" },
        type: "Opaque",
        stringData: { "swarms.json": this.json },
      },
      { parent: this, provider: args.provider },
    );
    this.registerOutputs({});
  }
}
