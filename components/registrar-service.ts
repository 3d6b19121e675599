// The registrar on its GKE cluster: one pod of a StatefulSet with its SQLite database on a
// regional persistent disk, Secrets for its keys (given or generated), TLS and trust bundle,
// the Redis primary and the swarms' Engine API credentials mounted from the Secrets that
// RegistrarAccess, RegistrarSwarms and each SwarmCluster create, and an HTTPS load balancer
// (GKE Ingress, static global IP) published as registrar.<domain>.
import { createHmac } from "node:crypto";
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { RegistrarServiceConfig } from "./config";
import { REGISTRAR_CONFIG_MOUNT, SWARM_SECRETS_MOUNT, SWARMS_FILE } from "./registrar-swarms";
import { RESTRICTED_CONTAINER_SECURITY } from "./pod-security";
import { RegistrarArmor } from "./registrar-armor";

/** The registrar's plain-HTTP listener in the pod; TLS ends at the load balancer. */
export const REGISTRAR_HTTP_PORT = 8080;
/** Its Prometheus listener: on the pod address, open only to the managed collectors. */
export const REGISTRAR_METRICS_PORT = 9464;
/** Unauthenticated; answers once the database answers (constant cost, no listing). */
export const REGISTRAR_HEALTH_PATH = "/healthz";
export const REGISTRAR_DATA_DIR = "/var/lib/registrar";
const TRUST_DIR = "/etc/atplatform/trust";
/** The activation API waits up to 30 s; the load balancer's default backend timeout is 30 s. */
const BACKEND_TIMEOUT_SECONDS = 60;
/** Cloud Armor's per-address budget at the edge (the registrar limits per route itself). */
const PUBLIC_REQUESTS_PER_MINUTE = 300;

export interface RegistrarServiceArgs {
  provider: k8s.Provider;
  namespace: pulumi.Input<string>;
  settings: RegistrarServiceConfig;
  /** Image reference (given in config, or built by the stack: tag@digest). */
  image: pulumi.Input<string>;
  /** `root.<domain>:64`: where atServers and the registrar's checks find the directory. */
  rootAddress: string;
  /** Secret with `url`, `password` of the Redis primary (RegistrarAccess). */
  redisSecretName: pulumi.Input<string>;
  /** Secret with `swarms.json` (RegistrarSwarms) and the per-swarm `swarm-<name>` Secrets. */
  swarmsSecretName: pulumi.Input<string>;
  /** The swarms file's content (it names the atServer image): read once at start. */
  swarmsJson: pulumi.Input<string>;
  swarmNames: string[];
  /** CAs the registrar must trust beyond the public ones: Memorystore's, the dev private CAs. */
  trustedCaPems: pulumi.Input<string>[];
  /** Certificate chain and key of registrar.<domain>. */
  tlsChainPem: pulumi.Input<string>;
  tlsKeyPem: pulumi.Input<string>;
  zoneName: pulumi.Input<string>;
  /** `registrar.<domain>` (no trailing dot). */
  hostname: string;
  /** Keep the disk when its claim is deleted (prod). */
  retainDisk: boolean;
  labels: Record<string, string>;
}

export class RegistrarService extends pulumi.ComponentResource {
  readonly statefulSet: k8s.apps.v1.StatefulSet;
  readonly ip: pulumi.Output<string>;
  readonly url: string;
  /** Onboarding API key and admin key (secret outputs). */
  readonly apiKey: pulumi.Output<string>;
  readonly adminKey: pulumi.Output<string>;

  constructor(name: string, args: RegistrarServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:registrar:RegistrarService", name, {}, opts);
    const k = { parent: this, provider: args.provider };
    const namespace = args.namespace;
    const s = args.settings;
    const appLabels = {
      "app.kubernetes.io/name": "registrar",
      "app.kubernetes.io/part-of": "atplatform",
    };
    this.url = `https://${args.hostname}/`;

    this.apiKey = pulumi.secret(s.apiKey ?? generatedKey(`${name}-api-key`, this));
    this.adminKey = pulumi.secret(s.adminKey ?? generatedKey(`${name}-admin-key`, this));
    const smtpPassword = s.smtp?.password;
    const appSecret = new k8s.core.v1.Secret(
      `${name}-app`,
      {
        metadata: { namespace, name: "registrar-app", labels: appLabels },
        type: "Opaque",
        stringData: {
          "api-key": this.apiKey,
          "admin-key": this.adminKey,
          ...(smtpPassword ? { "smtp-password": pulumi.secret(smtpPassword) } : {}),
          "ca-bundle.pem": pulumi
            .all(args.trustedCaPems)
            .apply((pems) => pems.map((p) => p.trim()).join("\n") + "\n"),
        },
      },
      k,
    );
    const tlsSecret = new k8s.core.v1.Secret(
      `${name}-tls`,
      {
        metadata: { namespace, name: "registrar-tls", labels: appLabels },
        type: "kubernetes.io/tls",
        stringData: { "tls.crt": args.tlsChainPem, "tls.key": pulumi.secret(args.tlsKeyPem) },
      },
      k,
    );
    // Env and files from Secrets are read at start: a pod-template annotation over a digest
    // of the values rolls the pod when a key, the SMTP password, the trust bundle or the
    // swarms file (a new atServer image) changes. The digest is an HMAC under a key that
    // exists only in the stack's state, so the annotation reveals nothing about the secrets
    // (a plain hash of a weak SMTP password could be guessed offline).
    const digestKey = generatedKey(`${name}-digest-key`, this);
    const secretsDigest = pulumi
      .all([
        digestKey,
        this.apiKey,
        this.adminKey,
        smtpPassword ?? "",
        args.swarmsJson,
        ...args.trustedCaPems,
      ])
      .apply(([key, ...v]) =>
        createHmac("sha256", key!).update(v.join("\0")).digest("hex").slice(0, 16),
      );

    const armor = new RegistrarArmor(
      `${name}-armor`,
      { adminCidrs: args.settings.adminCidrs, requestsPerMinute: PUBLIC_REQUESTS_PER_MINUTE },
      { parent: this },
    );
    // The load balancer's health check, timeout and Cloud Armor policy (GKE BackendConfig).
    const backendConfig = new k8s.apiextensions.CustomResource(
      `${name}-backend`,
      {
        apiVersion: "cloud.google.com/v1",
        kind: "BackendConfig",
        metadata: { namespace, name: "registrar", labels: appLabels },
        spec: {
          timeoutSec: BACKEND_TIMEOUT_SECONDS,
          securityPolicy: { name: armor.policy.name },
          healthCheck: {
            type: "HTTP",
            requestPath: REGISTRAR_HEALTH_PATH,
            port: REGISTRAR_HTTP_PORT,
          },
        },
      },
      k,
    );
    const service = new k8s.core.v1.Service(
      name,
      {
        metadata: {
          namespace,
          name: "registrar",
          labels: appLabels,
          annotations: {
            // Container-native load balancing: the HTTPS load balancer sends to the pod.
            "cloud.google.com/neg": JSON.stringify({ ingress: true }),
            "cloud.google.com/backend-config": backendConfig.metadata.name.apply((n) =>
              JSON.stringify({ default: n }),
            ),
          },
        },
        spec: {
          type: "ClusterIP",
          selector: appLabels,
          ports: [{ name: "http", port: REGISTRAR_HTTP_PORT, targetPort: "http", protocol: "TCP" }],
        },
      },
      k,
    );

    // A regional disk (two zones) so the one pod can be rescheduled after a zone loss.
    const storageClass = new k8s.storage.v1.StorageClass(
      `${name}-regional-pd`,
      {
        metadata: { labels: appLabels },
        provisioner: "pd.csi.storage.gke.io",
        parameters: { type: "pd-balanced", "replication-type": "regional-pd" },
        volumeBindingMode: "WaitForFirstConsumer",
        allowVolumeExpansion: true,
        reclaimPolicy: args.retainDisk ? "Retain" : "Delete",
      },
      k,
    );

    const env = registrarEnv(args, appSecret.metadata.name, smtpPassword !== undefined);
    // SQLite allows one writer, and the registrar also assumes it is the only one driving
    // each atSign's provisioning and the directory's primary. A StatefulSet with one replica
    // never runs two pods of the same ordinal: an update or a reschedule stops the old pod
    // before the new one starts (a Deployment's rolling update would surge a second pod),
    // and the ReadWriteOnce claim binds the disk to that one pod's node. The fixed name keeps
    // the claim (data-registrar-0) across a replacement of the StatefulSet itself.
    this.statefulSet = new k8s.apps.v1.StatefulSet(
      name,
      {
        metadata: { namespace, name: "registrar", labels: appLabels },
        spec: {
          replicas: 1,
          serviceName: service.metadata.name,
          podManagementPolicy: "OrderedReady",
          updateStrategy: { type: "RollingUpdate" },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
          selector: { matchLabels: appLabels },
          template: {
            metadata: {
              labels: appLabels,
              annotations: { "atplatform.io/secrets-digest": secretsDigest },
            },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 1024,
                runAsGroup: 1024,
                fsGroup: 1024,
                fsGroupChangePolicy: "OnRootMismatch",
                seccompProfile: { type: "RuntimeDefault" },
              },
              // Time to finish in-flight requests and steps (SIGTERM stops it cleanly).
              terminationGracePeriodSeconds: 60,
              containers: [
                {
                  name: "registrar",
                  image: args.image,
                  ports: [
                    { name: "http", containerPort: REGISTRAR_HTTP_PORT, protocol: "TCP" },
                    { name: "metrics", containerPort: REGISTRAR_METRICS_PORT, protocol: "TCP" },
                  ],
                  env,
                  resources: {
                    requests: { cpu: s.cpu, memory: s.memory },
                    limits: { memory: s.memory },
                  },
                  // First start transpiles the sources (tsx) and migrates the database.
                  startupProbe: {
                    httpGet: { path: REGISTRAR_HEALTH_PATH, port: "http" },
                    periodSeconds: 5,
                    failureThreshold: 60,
                  },
                  readinessProbe: {
                    httpGet: { path: REGISTRAR_HEALTH_PATH, port: "http" },
                    periodSeconds: 10,
                    failureThreshold: 3,
                  },
                  livenessProbe: {
                    httpGet: { path: REGISTRAR_HEALTH_PATH, port: "http" },
                    periodSeconds: 20,
                    timeoutSeconds: 5,
                    failureThreshold: 3,
                  },
                  securityContext: RESTRICTED_CONTAINER_SECURITY,
                  volumeMounts: [
                    { name: "data", mountPath: REGISTRAR_DATA_DIR },
                    { name: "tmp", mountPath: "/tmp" },
                    { name: "trust", mountPath: TRUST_DIR, readOnly: true },
                    { name: "swarms-file", mountPath: REGISTRAR_CONFIG_MOUNT, readOnly: true },
                    ...args.swarmNames.map((n) => ({
                      name: `swarm-${n}`,
                      mountPath: `${SWARM_SECRETS_MOUNT}/${n}`,
                      readOnly: true,
                    })),
                  ],
                },
              ],
              volumes: [
                // tsx's transpile cache and other temporary files (the root filesystem is read-only).
                { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
                {
                  name: "trust",
                  secret: {
                    secretName: appSecret.metadata.name,
                    items: [{ key: "ca-bundle.pem", path: "ca-bundle.pem" }],
                  },
                },
                {
                  name: "swarms-file",
                  secret: { secretName: args.swarmsSecretName, defaultMode: 0o440 },
                },
                ...args.swarmNames.map((n) => ({
                  name: `swarm-${n}`,
                  secret: { secretName: `swarm-${n}`, defaultMode: 0o440 },
                })),
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: "data", labels: appLabels },
              spec: {
                accessModes: ["ReadWriteOnce"],
                storageClassName: storageClass.metadata.name,
                resources: { requests: { storage: `${s.storageGb}Gi` } },
              },
            },
          ],
        },
      },
      k,
    );

    // TLS 1.2 or newer with the MODERN cipher profile at the load balancer (GKE applies the
    // SSL policy named by the Ingress's FrontendConfig).
    const sslPolicy = new gcp.compute.SSLPolicy(
      `${name}-tls`,
      { profile: "MODERN", minTlsVersion: "TLS_1_2" },
      { parent: this },
    );
    const frontendConfig = new k8s.apiextensions.CustomResource(
      `${name}-frontend`,
      {
        apiVersion: "networking.gke.io/v1beta1",
        kind: "FrontendConfig",
        metadata: { namespace, name: "registrar", labels: appLabels },
        spec: { sslPolicy: sslPolicy.name },
      },
      k,
    );

    // HTTPS only (no port 80), on a reserved global address, certificate from the Secret.
    const address = new gcp.compute.GlobalAddress(
      `${name}-ip`,
      { addressType: "EXTERNAL", ipVersion: "IPV4", labels: args.labels },
      // Client-visible: protected with the stack's deletion protection.
      { parent: this, protect: args.retainDisk },
    );
    this.ip = address.address;
    new k8s.networking.v1.Ingress(
      name,
      {
        metadata: {
          namespace,
          name: "registrar",
          labels: appLabels,
          annotations: {
            "kubernetes.io/ingress.class": "gce",
            "kubernetes.io/ingress.global-static-ip-name": address.name,
            "kubernetes.io/ingress.allow-http": "false",
            "networking.gke.io/v1beta1.FrontendConfig": frontendConfig.metadata.name,
          },
        },
        spec: {
          tls: [{ hosts: [args.hostname], secretName: tlsSecret.metadata.name }],
          defaultBackend: {
            service: { name: service.metadata.name, port: { name: "http" } },
          },
        },
      },
      { ...k, dependsOn: [this.statefulSet] },
    );
    new gcp.dns.RecordSet(
      `${name}-dns`,
      {
        managedZone: args.zoneName,
        name: `${args.hostname}.`,
        type: "A",
        ttl: 300,
        rrdatas: [address.address],
      },
      { parent: this },
    );

    this.registerOutputs({ ip: this.ip, apiKey: this.apiKey, adminKey: this.adminKey });
  }
}

/** A random key for the registrar when none is configured (kept in state, as a secret). */
function generatedKey(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  return new random.RandomPassword(name, { length: 40, special: false }, { parent }).result;
}

type EnvVar = k8s.types.input.core.v1.EnvVar;

/** The registrar's environment (docs/registrar.md); every secret arrives by reference. */
function registrarEnv(
  args: RegistrarServiceArgs,
  appSecret: pulumi.Input<string>,
  smtpPassword: boolean,
): EnvVar[] {
  const fromSecret = (name: string, secret: pulumi.Input<string>, key: string): EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: secret, key } },
  });
  const smtp = args.settings.smtp;
  return [
    { name: "REGISTRAR_BIND", value: "0.0.0.0" },
    { name: "REGISTRAR_PORT", value: String(REGISTRAR_HTTP_PORT) },
    // Loopback by default; the collectors scrape the pod address (NetworkPolicy-gated).
    { name: "REGISTRAR_METRICS_PORT", value: String(REGISTRAR_METRICS_PORT) },
    { name: "REGISTRAR_METRICS_HOST", value: "0.0.0.0" },
    { name: "REGISTRAR_DATA_DIR", value: REGISTRAR_DATA_DIR },
    { name: "REGISTRAR_SECURE_COOKIES", value: "true" },
    { name: "REGISTRAR_ROOT", value: args.rootAddress },
    // The platform prober reads the certificate clients see at the public name (expiry alert).
    { name: "REGISTRAR_PUBLIC_URL", value: `https://${args.hostname}/` },
    { name: "REGISTRAR_ORCHESTRATOR", value: "swarm" },
    { name: "REGISTRAR_SWARMS_FILE", value: SWARMS_FILE },
    // Node adds these to its public roots for every TLS client (Redis, root, atServer checks).
    { name: "NODE_EXTRA_CA_CERTS", value: `${TRUST_DIR}/ca-bundle.pem` },
    fromSecret("REGISTRAR_DIRECTORY_REDIS", args.redisSecretName, "url"),
    fromSecret("REGISTRAR_DIRECTORY_REDIS_PASSWORD", args.redisSecretName, "password"),
    fromSecret("REGISTRAR_API_KEY", appSecret, "api-key"),
    fromSecret("REGISTRAR_ADMIN_KEY", appSecret, "admin-key"),
    ...(smtp
      ? [
          { name: "SMTP_HOST", value: smtp.host },
          { name: "SMTP_PORT", value: String(smtp.port) },
          { name: "SMTP_SECURE", value: String(smtp.secure) },
          { name: "SMTP_FROM", value: smtp.from },
          ...(smtp.user ? [{ name: "SMTP_USER", value: smtp.user }] : []),
          ...(smtpPassword ? [fromSecret("SMTP_PASS", appSecret, "smtp-password")] : []),
        ]
      : []),
  ];
}
