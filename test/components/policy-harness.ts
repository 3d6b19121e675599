// Runs the policy pack's resource policies offline over mock-recorded resources, the way
// the analyzer would during `pulumi preview --policy-pack policy`.
import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import type { Recorded } from "./mocks";

export interface Violation {
  policy: string;
  type: string;
  name: string;
  message: string;
}

class NotApplicable extends Error {}

export function runPolicies(
  policies: ResourceValidationPolicy[],
  resources: Recorded[],
): Violation[] {
  const violations: Violation[] = [];
  for (const res of resources) {
    for (const policy of policies) {
      const validations = [policy.validateResource ?? []].flat();
      for (const validate of validations) {
        const args: ResourceValidationArgs = {
          type: res.type,
          props: res.inputs,
          urn: `urn:pulumi:test::atplatform::${res.type}::${res.name}`,
          name: res.name,
          opts: {} as any,
          stackTags: new Map(),
          isType: (cls: any) => cls.__pulumiType === res.type,
          asType: ((cls: any) => (cls.__pulumiType === res.type ? res.inputs : undefined)) as any,
          getConfig: (() => ({})) as any,
          notApplicable: (reason?: string): never => {
            throw new NotApplicable(reason);
          },
        };
        try {
          void validate(args, (message: string) =>
            violations.push({ policy: policy.name, type: res.type, name: res.name, message }),
          );
        } catch (e) {
          if (!(e instanceof NotApplicable)) throw e;
        }
      }
    }
  }
  return violations;
}
