// A swarm's own objects, declared through @pulumi/docker on the managers' Docker Engine
// API (mutual TLS). That API is private (no public IP), so this runs only where it is
// reachable, as the second step of `up` (docs/operations.md): an IAP tunnel to manager 0,
// `atplatform:swarms[i].engineHost` set to the tunnel's local end, and `pulumi up` again.
//
// Declared here: the wildcard certificate pair as Docker secrets, in private-ca mode (the
// stack holds that certificate). Names and label follow the swarm's maintenance job
// (scripts/swarm-node.sh tls_sync: `atserver-tls-{crt,key}-<12 hex of sha256(cert)>`,
// label atplatform.tls=wildcard), which moves the atServer services onto the newest pair
// and removes pairs no service uses; so Pulumi retains a replaced pair instead of deleting
// it under running services. In ACME mode the certificate is issued on the swarm, and the
// swarm publishes it itself. No global service belongs to the stack: atServers and their
// storage jobs are the registrar's.
import { createHash } from "node:crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { LeafCertificate, type PrivateCa } from "./private-ca";

export interface SwarmEngineArgs {
  /** `tcp://<host>:<port>` where this `up` reaches manager 0's Docker API (e.g. a tunnel). */
  host: string;
  /** The swarm's Docker API CA (it signs the engine's server and our client certificate). */
  dockerCa: PrivateCa;
  /** The wildcard pair, when the stack issues it (private-ca mode). */
  wildcard?: { chainPem: pulumi.Output<string>; keyPem: pulumi.Output<string> };
}

/** The content the swarm's job would publish for a PEM it read from Secret Manager. */
export function publishedPem(pem: string): string {
  // The job reads the secret through `$(…)`, which drops trailing newlines, then adds one.
  return `${pem.replace(/\n+$/, "")}\n`;
}

/** `atserver-tls-{crt,key}-<hash>` as tls_sync names them: the hash is the certificate's. */
export function wildcardSecretNames(chainPem: string): { crt: string; key: string } {
  const hash = createHash("sha256").update(chainPem.replace(/\n+$/, "")).digest("hex").slice(0, 12);
  return { crt: `atserver-tls-crt-${hash}`, key: `atserver-tls-key-${hash}` };
}

export class SwarmEngine extends pulumi.ComponentResource {
  readonly provider: docker.Provider;
  readonly secrets: docker.Secret[] = [];

  constructor(name: string, args: SwarmEngineArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:swarm:SwarmEngine", name, {}, opts);
    // The operator's own client identity on this swarm's API (not the registrar's).
    const client = new LeafCertificate(
      `${name}-operator-client`,
      { ca: args.dockerCa, commonName: "pulumi", usage: "client" },
      { parent: this },
    );
    this.provider = new docker.Provider(
      `${name}-engine`,
      {
        host: args.host,
        caMaterial: args.dockerCa.certPem,
        certMaterial: client.certPem,
        keyMaterial: client.keyPem,
      },
      { parent: this },
    );
    if (args.wildcard) {
      const names = args.wildcard.chainPem.apply(wildcardSecretNames);
      const pair: [string, pulumi.Output<string>, pulumi.Output<string>][] = [
        ["crt", names.crt, args.wildcard.chainPem],
        ["key", names.key, args.wildcard.keyPem],
      ];
      for (const [part, secretName, pem] of pair)
        this.secrets.push(
          new docker.Secret(
            `${name}-wildcard-${part}`,
            {
              name: secretName,
              data: pulumi.secret(
                pem.apply((p) => Buffer.from(publishedPem(p), "utf8").toString("base64")),
              ),
              labels: [{ label: "atplatform.tls", value: "wildcard" }],
            },
            { parent: this, provider: this.provider, retainOnDelete: true },
          ),
        );
    }
    this.registerOutputs({});
  }
}
