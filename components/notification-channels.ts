// Where alerts go: one Cloud Monitoring notification channel per configured e-mail address,
// and PagerDuty when its integration key is set (a secret: it goes in sensitiveLabels, which
// the API never returns, and stays encrypted in Pulumi state).
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { AlertingConfig } from "./config";

export interface NotificationChannelsArgs {
  settings: AlertingConfig;
  env: string;
  labels: Record<string, string>;
}

export class NotificationChannels extends pulumi.ComponentResource {
  /** Channel resource names (`projects/<p>/notificationChannels/<id>`), for alert policies. */
  readonly names: pulumi.Output<string>[];

  constructor(
    name: string,
    args: NotificationChannelsArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("atplatform:monitoring:NotificationChannels", name, {}, opts);
    const s = args.settings;
    if (s.emails.length === 0 && s.pagerDutyServiceKey === undefined)
      throw new pulumi.ResourceError(`${name}: no notification channel configured`, this);
    const channels = s.emails.map(
      (email, i) =>
        new gcp.monitoring.NotificationChannel(
          `${name}-email-${i}`,
          {
            displayName: `atplatform ${args.env}: ${email}`,
            type: "email",
            labels: { email_address: email },
            userLabels: args.labels,
          },
          { parent: this },
        ),
    );
    if (s.pagerDutyServiceKey !== undefined)
      channels.push(
        new gcp.monitoring.NotificationChannel(
          `${name}-pagerduty`,
          {
            displayName: `atplatform ${args.env}: PagerDuty`,
            type: "pagerduty",
            sensitiveLabels: { serviceKey: pulumi.secret(s.pagerDutyServiceKey) },
            userLabels: args.labels,
          },
          { parent: this },
        ),
      );
    this.names = channels.map((c) => c.name);
    this.registerOutputs({ names: this.names });
  }
}
