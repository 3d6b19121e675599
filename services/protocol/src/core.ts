// Everything the wire needs, without the PKI helpers (whose X.509 library costs ~200 ms
// and several MB at start-up): servers import this, tools import the package index.
export * from "./errors";
export * from "./metadata";
export * from "./keys";
export * from "./atsign";
export * from "./grammar";
export * as verbs from "./verbs";
export { VERBS, identifyVerb, normalizeCommand, parseCommand } from "./verbs";
export type * from "./verbs";
export * from "./crypto";
export * from "./atkeys";
export * from "./client";
export * from "./root-client";
