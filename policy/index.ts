// The policy pack `pulumi preview --policy-pack policy` loads. The policies themselves live
// in policies.ts so the tests can run them without starting the analyzer.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("atplatform", { policies });
