// A swarm's VMs: instance templates (no public IP, shielded, startup script), three
// stateful managers pinned to their reserved addresses, and autoscaled, auto-healed workers.
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { SwarmConfig } from "./config";
import { OPS_AGENT_CONFIG_KEY, opsAgentConfig } from "./ops-agent-config";
import { DOCKER_API_PORT, SWARM_GOSSIP_PORT, SWARM_MANAGER_PORT } from "./swarm-network";

export const MANAGER_COUNT = 3;
/** Where the startup script installs itself on every swarm VM. */
export const SWARM_SELF = "/usr/local/sbin/atplatform-swarm";

export interface SwarmNodesArgs {
  region: string;
  zones: string[];
  subnet: pulumi.Input<string>;
  settings: SwarmConfig;
  /** One reserved internal address per manager, manager 0 first. */
  managerAddresses: gcp.compute.Address[];
  managerTag: string;
  workerTag: string;
  managerAccount: gcp.serviceaccount.Account;
  workerAccount: gcp.serviceaccount.Account;
  /** Rendered scripts/swarm-node.sh per role. */
  managerScript: pulumi.Input<string>;
  workerScript: pulumi.Input<string>;
  labels: Record<string, string>;
  /** The exact boot image (config `swarmNodeImage.image`; never a family). */
  sourceImage: string;
  /** Whatever a VM's first boot needs (secret versions, IAM grants, Cloud NAT). */
  bootstrap: pulumi.Resource[];
}

export class SwarmNodes extends pulumi.ComponentResource {
  readonly managers: gcp.compute.RegionInstanceGroupManager;
  readonly workers: gcp.compute.RegionInstanceGroupManager;

  constructor(name: string, args: SwarmNodesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("atplatform:swarm:SwarmNodes", name, {}, opts);
    const parent = { parent: this };
    // Everything that creates VMs waits for what their first boot reads.
    const vms = { parent: this, dependsOn: args.bootstrap };
    const s = args.settings;
    const labels = args.labels;
    const zones = args.zones.slice(0, MANAGER_COUNT);
    const managerAddresses = args.managerAddresses;
    const { managerTag, workerTag } = args;
    const template = (
      role: "manager" | "worker",
      machineType: string,
      sa: gcp.serviceaccount.Account,
      tag: string,
    ) =>
      new gcp.compute.InstanceTemplate(
        `${name}-${role}`,
        {
          namePrefix: `${name}-${role}-`,
          machineType,
          disks: [
            {
              boot: true,
              autoDelete: true,
              deviceName: "boot",
              sourceImage: args.sourceImage,
              diskSizeGb: 30,
              diskType: "pd-balanced",
            },
          ],
          // No accessConfigs: no public IP. Egress goes through Cloud NAT.
          networkInterfaces: [{ subnetwork: args.subnet }],
          serviceAccount: {
            email: sa.email,
            scopes: ["https://www.googleapis.com/auth/cloud-platform"],
          },
          metadata: {
            "startup-script": role === "manager" ? args.managerScript : args.workerScript,
            // Workers leave the swarm when GCE stops them (scale-in, roll-out, repair).
            ...(role === "worker"
              ? { "shutdown-script": `#!/bin/bash\n${SWARM_SELF} leave\n` }
              : {}),
            [OPS_AGENT_CONFIG_KEY]: opsAgentConfig({ swarm: s.name, role }),
            "enable-oslogin": "TRUE",
            "block-project-ssh-keys": "TRUE",
          },
          tags: [tag],
          shieldedInstanceConfig: {
            enableSecureBoot: true,
            enableVtpm: true,
            enableIntegrityMonitoring: true,
          },
          labels: { ...labels, role },
        },
        { parent: this },
      );
    const managerTemplate = template(
      "manager",
      s.managerMachineType,
      args.managerAccount,
      managerTag,
    );
    const workerTemplate = template("worker", s.workerMachineType, args.workerAccount, workerTag);

    const hc = (role: string, port: number) =>
      new gcp.compute.HealthCheck(
        `${name}-${role}-hc`,
        {
          tcpHealthCheck: { port },
          checkIntervalSec: 15,
          timeoutSec: 5,
          healthyThreshold: 2,
          unhealthyThreshold: 4,
        },
        parent,
      );

    // Managers: stateful (pinned IP + boot disk holding the Raft log), one per zone. Updates
    // are opportunistic: an operator replaces one manager at a time so quorum is never lost.
    // No targetSize: each per-instance config below creates its named VM and raises the
    // group's size by one (createInstances), so the three configs are the three managers.
    // A targetSize of 3 would add three more, randomly named, and a later `up` would resize
    // back to 3 by deleting managers without demoting them (terraform-provider-google#15911).
    this.managers = new gcp.compute.RegionInstanceGroupManager(
      `${name}-managers`,
      {
        region: args.region,
        baseInstanceName: `${name}-mgr`,
        distributionPolicyZones: zones,
        distributionPolicyTargetShape: "EVEN",
        versions: [{ name: "managers", instanceTemplate: managerTemplate.selfLinkUnique }],
        statefulDisks: [{ deviceName: "boot", deleteRule: "NEVER" }],
        statefulInternalIps: [{ interfaceName: "nic0", deleteRule: "NEVER" }],
        autoHealingPolicies: {
          healthCheck: hc("manager", SWARM_MANAGER_PORT).id,
          initialDelaySec: 600,
        },
        updatePolicy: {
          type: "OPPORTUNISTIC",
          minimalAction: "REPLACE",
          replacementMethod: "RECREATE",
          maxSurgeFixed: 0,
          maxUnavailableFixed: MANAGER_COUNT,
          instanceRedistributionType: "NONE",
        },
        namedPorts: [{ name: "docker-api", port: DOCKER_API_PORT }],
      },
      vms,
    );
    managerAddresses.forEach(
      (address, i) =>
        new gcp.compute.RegionPerInstanceConfig(
          `${name}-mgr-${i}`,
          {
            region: args.region,
            regionInstanceGroupManager: this.managers.name,
            name: `${name}-mgr-${i}`,
            preservedState: {
              internalIps: [
                {
                  interfaceName: "nic0",
                  autoDelete: "NEVER",
                  ipAddress: { address: address.selfLink },
                },
              ],
            },
            minimalAction: "NONE",
            mostDisruptiveAllowedAction: "REPLACE",
            removeInstanceStateOnDestroy: false,
          },
          vms,
        ),
    );

    // Workers: stateless; the autoscaler owns the count, scale-in is slow so containers
    // move gradually, and a worker that leaves the swarm (gossip port down) is recreated.
    this.workers = new gcp.compute.RegionInstanceGroupManager(
      `${name}-workers`,
      {
        region: args.region,
        baseInstanceName: `${name}-wkr`,
        distributionPolicyZones: args.zones,
        distributionPolicyTargetShape: "EVEN",
        versions: [{ name: "workers", instanceTemplate: workerTemplate.selfLinkUnique }],
        autoHealingPolicies: {
          healthCheck: hc("worker", SWARM_GOSSIP_PORT).id,
          initialDelaySec: 600,
        },
        updatePolicy: {
          type: "PROACTIVE",
          minimalAction: "REPLACE",
          replacementMethod: "SUBSTITUTE",
          maxSurgeFixed: args.zones.length,
          maxUnavailableFixed: 0,
          instanceRedistributionType: "PROACTIVE",
        },
      },
      vms,
    );
    new gcp.compute.RegionAutoscaler(
      `${name}-workers`,
      {
        region: args.region,
        target: this.workers.id,
        autoscalingPolicy: {
          minReplicas: s.minWorkers,
          maxReplicas: s.maxWorkers,
          cooldownPeriod: 300,
          cpuUtilization: { target: 0.6 },
          metrics: [
            {
              // From the Ops Agent the startup script installs on workers.
              name: "agent.googleapis.com/memory/percent_used",
              filter: 'resource.type = "gce_instance" AND metric.labels.state = "used"',
              type: "GAUGE",
              target: 70,
            },
          ],
          scaleInControl: { maxScaledInReplicas: { fixed: 1 }, timeWindowSec: 900 },
        },
      },
      parent,
    );

    this.registerOutputs({});
  }
}
