// The atDirectory on GKE: namespace, secrets, a Deployment reading Redis through the read
// endpoint only, HPA + PDB, and a LoadBalancer Service on TCP 64 behind a reserved static
// IP (client IPs preserved) published as root.<domain>.
import * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { DirectoryConfig } from "./config";
import type { RedisEndpoint } from "./directory-store";
import { RESTRICTED_CONTAINER_SECURITY, RESTRICTED_NAMESPACE_LABELS } from "./pod-security";

/** The atProtocol root port clients dial. */
export const DIRECTORY_PORT = 64;
/** What the container listens on: unprivileged, so it runs as non-root without capabilities. */
export const DIRECTORY_CONTAINER_PORT = 6464;
export const DIRECTORY_HTTP_PORT = 8080;
const TLS_DIR = "/etc/atdirectory/tls";
const REDIS_DIR = "/etc/atdirectory/redis";

export interface DirectoryServiceArgs {
  /** Protect the client-visible static address from deletion (prod). */
  protect: boolean;
  provider: k8s.Provider;
  region: string;
  settings: DirectoryConfig;
  /** Image reference (given in config, or built by the stack: tag@digest). */
  image: pulumi.Input<string>;
  /** Read endpoint of Memorystore (never the primary). */
  redisRead: RedisEndpoint;
  redisAuth: pulumi.Input<string>;
  redisCa: pulumi.Input<string>;
  /** Certificate chain and key for root.<domain>. */
  tlsChainPem: pulumi.Input<string>;
  tlsKeyPem: pulumi.Input<string>;
  /** Public zone and the FQDN (trailing dot) of the root name. */
  zoneName: pulumi.Input<string>;
  rootFqdn: string;
  labels: Record<string, string>;
}

export class DirectoryService extends pulumi.ComponentResource {
  readonly address: gcp.compute.Address;
  readonly deployment: k8s.apps.v1.Deployment;
  readonly service: k8s.core.v1.Service;
  readonly record: gcp.dns.RecordSet;
  readonly ip: pulumi.Output<string>;
  readonly namespace: pulumi.Output<string>;

  constructor(name: string, args: DirectoryServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:directory:DirectoryService", name, {}, opts);
    const k = { parent: this, provider: args.provider };
    const appLabels = {
      "app.kubernetes.io/name": "atdirectory",
      "app.kubernetes.io/part-of": "atplatform",
    };

    const ns = new k8s.core.v1.Namespace(
      name,
      {
        metadata: { name: "atdirectory", labels: { ...appLabels, ...RESTRICTED_NAMESPACE_LABELS } },
      },
      k,
    );
    const namespace = ns.metadata.name;
    this.namespace = namespace;

    const redisSecret = new k8s.core.v1.Secret(
      `${name}-redis`,
      {
        metadata: { namespace, labels: appLabels },
        type: "Opaque",
        stringData: { password: pulumi.secret(args.redisAuth), "ca.pem": args.redisCa },
      },
      k,
    );
    const tlsSecret = new k8s.core.v1.Secret(
      `${name}-tls`,
      {
        metadata: { namespace, labels: appLabels },
        type: "kubernetes.io/tls",
        stringData: { "tls.crt": args.tlsChainPem, "tls.key": pulumi.secret(args.tlsKeyPem) },
      },
      k,
    );

    const s = args.settings;
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: { namespace, labels: appLabels },
        spec: {
          // No `replicas`: the HPA owns the count.
          selector: { matchLabels: appLabels },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: { labels: appLabels },
            spec: {
              automountServiceAccountToken: false,
              securityContext: {
                runAsNonRoot: true,
                runAsUser: 1024,
                runAsGroup: 1024,
                fsGroup: 1024,
                seccompProfile: { type: "RuntimeDefault" },
              },
              topologySpreadConstraints: [
                {
                  maxSkew: 1,
                  topologyKey: "topology.kubernetes.io/zone",
                  whenUnsatisfiable: "DoNotSchedule",
                  labelSelector: { matchLabels: appLabels },
                },
                {
                  maxSkew: 1,
                  topologyKey: "kubernetes.io/hostname",
                  whenUnsatisfiable: "ScheduleAnyway",
                  labelSelector: { matchLabels: appLabels },
                },
              ],
              terminationGracePeriodSeconds: 30,
              containers: [
                {
                  name: "atdirectory",
                  image: args.image,
                  ports: [
                    {
                      name: "atdirectory",
                      containerPort: DIRECTORY_CONTAINER_PORT,
                      protocol: "TCP",
                    },
                    { name: "http", containerPort: DIRECTORY_HTTP_PORT, protocol: "TCP" },
                  ],
                  env: [
                    { name: "ATDIRECTORY_PORT", value: String(DIRECTORY_CONTAINER_PORT) },
                    { name: "ATDIRECTORY_HTTP_PORT", value: String(DIRECTORY_HTTP_PORT) },
                    { name: "ATDIRECTORY_CERT", value: `${TLS_DIR}/tls.crt` },
                    { name: "ATDIRECTORY_KEY", value: `${TLS_DIR}/tls.key` },
                    {
                      name: "ATDIRECTORY_REDIS",
                      value: pulumi.interpolate`rediss://${args.redisRead.host}:${args.redisRead.port}`,
                    },
                    { name: "ATDIRECTORY_REDIS_CA", value: `${REDIS_DIR}/ca.pem` },
                    {
                      name: "ATDIRECTORY_REDIS_PASSWORD",
                      valueFrom: {
                        secretKeyRef: { name: redisSecret.metadata.name, key: "password" },
                      },
                    },
                  ],
                  resources: {
                    requests: { cpu: s.cpu, memory: s.memory },
                    limits: { memory: s.memory },
                  },
                  readinessProbe: {
                    httpGet: { path: "/readyz", port: "http" },
                    periodSeconds: 5,
                    failureThreshold: 2,
                  },
                  livenessProbe: {
                    httpGet: { path: "/healthz", port: "http" },
                    initialDelaySeconds: 10,
                    periodSeconds: 10,
                    failureThreshold: 3,
                  },
                  securityContext: RESTRICTED_CONTAINER_SECURITY,
                  volumeMounts: [
                    { name: "tls", mountPath: TLS_DIR, readOnly: true },
                    { name: "redis-ca", mountPath: REDIS_DIR, readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                  ],
                },
              ],
              volumes: [
                {
                  name: "tls",
                  secret: { secretName: tlsSecret.metadata.name, defaultMode: 0o440 },
                },
                {
                  name: "redis-ca",
                  secret: {
                    secretName: redisSecret.metadata.name,
                    items: [{ key: "ca.pem", path: "ca.pem" }],
                  },
                },
                { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
              ],
            },
          },
        },
      },
      k,
    );

    new k8s.autoscaling.v2.HorizontalPodAutoscaler(
      name,
      {
        metadata: { namespace, labels: appLabels },
        spec: {
          scaleTargetRef: {
            apiVersion: "apps/v1",
            kind: "Deployment",
            name: this.deployment.metadata.name,
          },
          minReplicas: s.minReplicas,
          maxReplicas: s.maxReplicas,
          metrics: [
            {
              type: "Resource",
              resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
            },
          ],
          behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
        },
      },
      k,
    );
    new k8s.policy.v1.PodDisruptionBudget(
      name,
      {
        metadata: { namespace, labels: appLabels },
        spec: { maxUnavailable: 1, selector: { matchLabels: appLabels } },
      },
      k,
    );

    this.address = new gcp.compute.Address(
      `${name}-ip`,
      { region: args.region, addressType: "EXTERNAL", networkTier: "PREMIUM", labels: args.labels },
      { parent: this, protect: args.protect },
    );
    this.ip = this.address.address;
    this.service = new k8s.core.v1.Service(
      name,
      {
        metadata: {
          namespace,
          labels: appLabels,
          // Backend-service-based external passthrough NLB (GKE's recommended L4 path).
          annotations: { "cloud.google.com/l4-rbs": "enabled" },
        },
        spec: {
          type: "LoadBalancer",
          loadBalancerIP: this.address.address,
          // Keeps the client's source IP (needed for per-client throttling in the directory).
          externalTrafficPolicy: "Local",
          selector: appLabels,
          ports: [
            {
              name: "atdirectory",
              port: DIRECTORY_PORT,
              targetPort: "atdirectory",
              protocol: "TCP",
            },
          ],
        },
      },
      k,
    );

    this.record = new gcp.dns.RecordSet(
      `${name}-root`,
      {
        managedZone: args.zoneName,
        name: args.rootFqdn,
        type: "A",
        ttl: 300,
        rrdatas: [this.address.address],
      },
      { parent: this },
    );

    this.registerOutputs({ ip: this.ip });
  }
}
