// A small private certificate authority made with @pulumi/tls, and leaf certificates it
// signs. Used for the dev root name, the swarms' Docker Engine API (server + client
// certificates) and dev swarm wildcard certificates. Keys are secret outputs.
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export interface PrivateCaArgs {
  commonName: string;
  /** Validity of the CA certificate; leaves are shorter. */
  validityHours?: number;
}

export class PrivateCa extends pulumi.ComponentResource {
  readonly key: tls.PrivateKey;
  readonly cert: tls.SelfSignedCert;
  readonly certPem: pulumi.Output<string>;
  readonly keyPem: pulumi.Output<string>;

  constructor(name: string, args: PrivateCaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:tls:PrivateCa", name, {}, opts);
    this.key = new tls.PrivateKey(
      `${name}-key`,
      { algorithm: "ECDSA", ecdsaCurve: "P256" },
      { parent: this },
    );
    this.cert = new tls.SelfSignedCert(
      `${name}-cert`,
      {
        privateKeyPem: this.key.privateKeyPem,
        isCaCertificate: true,
        maxPathLength: 0,
        subject: { commonName: args.commonName, organization: "atplatform" },
        validityPeriodHours: args.validityHours ?? 24 * 365 * 5,
        earlyRenewalHours: 24 * 90,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
      },
      { parent: this },
    );
    this.certPem = this.cert.certPem;
    this.keyPem = pulumi.secret(this.key.privateKeyPem);
    this.registerOutputs({ certPem: this.certPem });
  }
}

export interface LeafCertificateArgs {
  ca: PrivateCa;
  commonName: string;
  dnsNames?: pulumi.Input<pulumi.Input<string>[]>;
  ipAddresses?: pulumi.Input<pulumi.Input<string>[]>;
  usage: "server" | "client" | "server+client";
  validityHours?: number;
}

/** A key and a certificate signed by a PrivateCa; re-issued by `pulumi up` 30 days before expiry. */
export class LeafCertificate extends pulumi.ComponentResource {
  readonly certPem: pulumi.Output<string>;
  /** Leaf followed by the CA, as servers present it. */
  readonly chainPem: pulumi.Output<string>;
  readonly keyPem: pulumi.Output<string>;

  constructor(name: string, args: LeafCertificateArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:tls:LeafCertificate", name, {}, opts);
    const key = new tls.PrivateKey(
      `${name}-key`,
      { algorithm: "ECDSA", ecdsaCurve: "P256" },
      { parent: this },
    );
    const csr = new tls.CertRequest(
      `${name}-csr`,
      {
        privateKeyPem: key.privateKeyPem,
        subject: { commonName: args.commonName, organization: "atplatform" },
        dnsNames: args.dnsNames,
        ipAddresses: args.ipAddresses,
      },
      { parent: this },
    );
    const eku = {
      server: ["server_auth"],
      client: ["client_auth"],
      "server+client": ["server_auth", "client_auth"],
    }[args.usage];
    const cert = new tls.LocallySignedCert(
      `${name}-cert`,
      {
        certRequestPem: csr.certRequestPem,
        caCertPem: args.ca.certPem,
        caPrivateKeyPem: args.ca.keyPem,
        validityPeriodHours: args.validityHours ?? 24 * 365,
        earlyRenewalHours: 24 * 30,
        allowedUses: ["digital_signature", "key_encipherment", ...eku],
      },
      { parent: this },
    );
    this.certPem = cert.certPem;
    this.chainPem = pulumi.interpolate`${cert.certPem.apply((c) => c.trim())}\n${args.ca.certPem}`;
    this.keyPem = pulumi.secret(key.privateKeyPem);
    this.registerOutputs({ certPem: this.certPem });
  }
}
