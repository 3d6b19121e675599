// Pulumi mocks for the component tests: every registered resource is recorded (type, name,
// inputs, provider), computed outputs the program reads are returned per type, and any
// provider function call is refused so a new invoke cannot slip in unmocked.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { autoName, resourceRules, type ApiViolation } from "./gcp-rules";

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface Recorded {
  type: string;
  name: string;
  /** Inputs as the engine received them: secrets are still wrapped (see `isSecretValue`). */
  rawInputs: Record<string, any>;
  /** Inputs with secrets unwrapped, for assertions and policies. */
  inputs: Record<string, any>;
  /** `urn::id` of the explicit provider, if one was given. */
  provider?: string;
  custom: boolean;
}

export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as any)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** True if the value at `path` in recorded raw inputs is secret (itself or an enclosing value). */
export function secretAt(raw: unknown, path: (string | number)[]): boolean {
  let v: any = raw;
  for (const step of path) {
    if (isSecretValue(v)) return true;
    if (v === undefined || v === null) return false;
    v = v[step];
  }
  return isSecretValue(v);
}

export function unwrapSecrets(v: any): any {
  if (isSecretValue(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

const FAKE_KEY =
  "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFAKEFAKEFAKE\n-----END PRIVATE KEY-----\n";
const fakeCert = (cn: string) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(cn).toString("base64")}\n-----END CERTIFICATE-----\n`;

/** A stable fake address per resource name: the directory's LB is 34.1.2.3. */
function fakeAddress(name: string, internal: boolean): string {
  if (!internal && name === "atdirectory-ip") return "34.1.2.3";
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 200;
  return internal ? `10.12.0.${h + 10}` : `34.2.${h}.1`;
}

/** Outputs the cloud would compute, by type token. Only what the program reads. */
function computed(
  type: string,
  name: string,
  inputs: Record<string, any>,
  project: string,
): Record<string, any> {
  // Autonaming: a Google resource without a given name gets `<resource name>-<7 hex>`.
  const auto = type.startsWith("gcp:") && inputs.name === undefined ? { name: autoName(name) } : {};
  return { ...auto, ...computedByType(type, name, inputs, project) };
}

function computedByType(
  type: string,
  name: string,
  inputs: Record<string, any>,
  project: string,
): Record<string, any> {
  switch (type) {
    case "gcp:container/cluster:Cluster":
      return {
        name,
        endpoint: "10.0.0.2",
        controlPlaneEndpointsConfig: {
          dnsEndpointConfig: {
            endpoint: `gke-${name}-1234.europe-west2.gke.goog`,
            allowExternalTraffic: true,
          },
          ipEndpointsConfig: { enabled: true },
        },
      };
    case "gcp:redis/instance:Instance":
      return {
        host: "10.60.0.3",
        port: 6378,
        readEndpoint: "10.60.0.4",
        readEndpointPort: 6378,
        authString: "mock-redis-auth",
        serverCaCerts: [{ cert: fakeCert("memorystore-ca") }],
      };
    case "gcp:serviceaccount/account:Account":
      return {
        email: `${inputs.accountId}@test-proj.iam.gserviceaccount.com`,
        member: `serviceAccount:${inputs.accountId}@test-proj.iam.gserviceaccount.com`,
        name: `projects/test-proj/serviceAccounts/${inputs.accountId}`,
      };
    case "gcp:compute/address:Address":
      return {
        address: fakeAddress(name, inputs.addressType === "INTERNAL"),
        selfLink: `addresses/${name}`,
      };
    case "gcp:projects/iAMCustomRole:IAMCustomRole":
      return { name: `projects/test-proj/roles/${inputs.roleId}` };
    case "gcp:compute/globalAddress:GlobalAddress":
      // An external global address (the registrar's load balancer) gets a public IP.
      return { name, address: inputs.address ?? "34.120.0.9" };
    case "gcp:dns/managedZone:ManagedZone":
      return {
        name,
        nameServers: ["ns-cloud-a1.googledomains.com.", "ns-cloud-a2.googledomains.com."],
      };
    case "gcp:artifactregistry/repository:Repository":
      return {
        name: inputs.repositoryId,
        registryUri: `${inputs.location}-docker.pkg.dev/${project}/${inputs.repositoryId}`,
      };
    case "gcp:compute/instanceTemplate:InstanceTemplate":
      return {
        name,
        selfLink: `templates/${name}`,
        selfLinkUnique: `templates/${name}?uniqueId=1`,
      };
    case "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager":
      return { instanceGroup: `instanceGroups/${name}`, selfLink: `igm/${name}` };
    case "gcp:filestore/instance:Instance":
      return { name, networks: [{ ...(inputs.networks?.[0] ?? {}), ipAddresses: ["10.60.8.2"] }] };
    case "gcp:secretmanager/secret:Secret":
      return { name: `projects/test-proj/secrets/${inputs.secretId}`, secretId: inputs.secretId };
    case "gcp:monitoring/notificationChannel:NotificationChannel":
      return { name: `projects/${project}/notificationChannels/${name}` };
    case "gcp:monitoring/uptimeCheckConfig:UptimeCheckConfig":
      return { uptimeCheckId: `${name}-check` };
    case "docker-build:index:Image":
      return {
        digest: "sha256:" + "ab".repeat(32),
        ref: `${inputs.tags[0]}@sha256:${"ab".repeat(32)}`,
      };
    case "random:index/randomId:RandomId":
      return { hex: "a1b2c3" };
    case "random:index/randomPassword:RandomPassword":
      return { result: `mock-${name}-`.padEnd(inputs.length ?? 16, "x") };
    case "tls:index/privateKey:PrivateKey":
      return {
        privateKeyPem: FAKE_KEY,
        publicKeyPem: "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----\n",
      };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: fakeCert(name) };
    case "tls:index/certRequest:CertRequest":
      return {
        certRequestPem:
          "-----BEGIN CERTIFICATE REQUEST-----\nx\n-----END CERTIFICATE REQUEST-----\n",
      };
    default:
      if (type.startsWith("kubernetes:") && !type.startsWith("pulumi:providers")) {
        return {
          metadata: { ...(inputs.metadata ?? {}), name: inputs.metadata?.name ?? `${name}-abc123` },
        };
      }
      return {};
  }
}

export interface MockOptions {
  /** Return only the inputs, as a first `pulumi preview` would (computed values unknown). */
  preview?: boolean;
  /** The provider's default project (the stack's `gcp:project`); default "test-proj". */
  project?: string;
}

export class Recorder {
  readonly resources: Recorded[] = [];
  /** Names of the resources each one waits for, by `type::name` (dependsOn and inputs). */
  readonly dependencies = new Map<string, string[]>();
  /** `type::name` of every resource registered with `protect`. */
  readonly protectedResources = new Set<string>();
  /** `type::name` of every resource registered with `retainOnDelete`. */
  readonly retainedResources = new Set<string>();
  /** The parent (`type::name`) of each resource registered with one. */
  readonly parents = new Map<string, string>();
  /** Values the Google Cloud API would reject (test/components/gcp-rules.ts). */
  readonly apiViolations: ApiViolation[] = [];
  readonly refusedCalls: string[] = [];
  /** Provider functions the program called (the mocked ones). */
  readonly calls: string[] = [];

  constructor(private readonly opts: MockOptions = {}) {}

  readonly mocks: pulumi.runtime.Mocks = {
    newResource: (a) => {
      this.resources.push({
        type: a.type,
        name: a.name,
        rawInputs: a.inputs,
        inputs: unwrapSecrets(a.inputs),
        provider: a.provider || undefined,
        custom: a.custom ?? true,
      });
      this.apiViolations.push(...resourceRules(a.type, a.name, unwrapSecrets(a.inputs)));
      const state = this.opts.preview
        ? a.inputs
        : { ...a.inputs, ...computed(a.type, a.name, a.inputs, this.opts.project ?? "test-proj") };
      return { id: this.opts.preview ? undefined : `${a.name}_id`, state };
    },
    call: (a) => {
      if (a.token === "gcp:organizations/getClientConfig:getClientConfig") {
        this.calls.push(a.token);
        return { project: "test-proj", region: "europe-west2", accessToken: "mock-access-token" };
      }
      if (a.token === "gcp:organizations/getProject:getProject") {
        this.calls.push(a.token);
        return { projectId: a.inputs.projectId, number: "123456789012" };
      }
      // A tag looked up in its registry: a digest derived from the reference.
      if (a.token === "docker:index/getRegistryImage:getRegistryImage") {
        this.calls.push(a.token);
        const digest = createHash("sha256").update(String(a.inputs.name)).digest("hex");
        return { name: a.inputs.name, sha256Digest: `sha256:${digest}` };
      }
      this.refusedCalls.push(a.token);
      throw new Error(`unmocked provider call ${a.token}`);
    },
  };

  all(type: string): Recorded[] {
    return this.resources.filter((r) => r.type === type);
  }

  one(type: string, name?: string): Recorded {
    const found = this.all(type).filter((r) => name === undefined || r.name === name);
    if (found.length !== 1)
      throw new Error(`expected one ${type}${name ? ` "${name}"` : ""}, found ${found.length}`);
    return found[0]!;
  }

  /** Names of what `type`/`name` waits for. */
  dependsOn(type: string, name: string): string[] {
    const deps = this.dependencies.get(`${type}::${name}`);
    if (!deps) throw new Error(`no dependencies recorded for ${type} ${name}`);
    return deps;
  }

  /**
   * What a resource waits for, its ancestors' waits included: a child registers only after
   * its parent, which registers only after the parent's own dependsOn.
   */
  waitsFor(type: string, name: string): string[] {
    const byName = new Map<string, string[]>();
    for (const k of this.dependencies.keys()) {
      const n = k.slice(k.lastIndexOf("::") + 2);
      byName.set(n, [...(byName.get(n) ?? []), k]);
    }
    const seen = new Set<string>();
    const todo = [`${type}::${name}`];
    while (todo.length > 0) {
      const k = todo.pop()!;
      const parent = this.parents.get(k);
      const next = [...(parent ? [parent] : [])];
      for (const d of this.dependencies.get(k) ?? []) {
        if (!seen.has(`name:${d}`)) next.push(...(byName.get(d) ?? []));
        seen.add(`name:${d}`);
      }
      for (const n of next) if (!seen.has(n)) (seen.add(n), todo.push(n));
    }
    return [...seen].filter((k) => k.startsWith("name:")).map((k) => k.slice(5));
  }

  named(name: string): Recorded {
    const found = this.resources.filter((r) => r.name === name);
    if (found.length !== 1)
      throw new Error(`expected one resource named ${name}, found ${found.length}`);
    return found[0]!;
  }
}

/** Installs a fresh recorder as the process's Pulumi mocks. */
export async function useMocks(opts: MockOptions = {}): Promise<Recorder> {
  const recorder = new Recorder(opts);
  await pulumi.runtime.setMocks(
    recorder.mocks,
    "atplatform",
    opts.preview ? "preview" : "test",
    opts.preview ?? false,
  );
  // The mocks API does not pass on what a resource waits for; the monitor's request has it.
  const monitor = (pulumi.runtime as any).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: unknown) => {
    const deps = (req.getDependenciesList() as string[]).map((urn) => urn.split("::").pop()!);
    recorder.dependencies.set(`${req.getType()}::${req.getName()}`, deps);
    if (req.getProtect()) recorder.protectedResources.add(`${req.getType()}::${req.getName()}`);
    if (req.getRetainondelete?.())
      recorder.retainedResources.add(`${req.getType()}::${req.getName()}`);
    const parent = req.getParent() as string;
    if (parent) {
      const parts = parent.split("::");
      const type = parts[parts.length - 2]!.split("$").pop()!;
      recorder.parents.set(`${req.getType()}::${req.getName()}`, `${type}::${parts.pop()}`);
    }
    return register(req, callback);
  };
  return recorder;
}

/** Waits until every resource registration the program started has reached the mocks. */
export async function settle(): Promise<void> {
  const wait = (pulumi.runtime as any).waitForRPCs;
  if (typeof wait !== "function")
    throw new Error("pulumi.runtime.waitForRPCs is gone: update test/components/mocks.ts");
  await wait();
}

/** The value of an Output (rejects if its computation throws). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
  return (o as any).promise() as Promise<T>;
}

/** Whether an Output is marked secret (resolves even when the value is unknown). */
export function isSecretOutput(o: pulumi.Output<unknown>): Promise<boolean> {
  return (o as any).isSecret as Promise<boolean>;
}
