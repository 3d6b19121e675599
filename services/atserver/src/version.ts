// `info` reports the reference protocol level we implement, plus our own build as semver
// build metadata (clients parse `version` as semver; `+…` is allowed).
import { version as ours } from "../package.json";

export const PROTOCOL_VERSION = "3.0.52";
export const SERVER_VERSION = `${PROTOCOL_VERSION}+atplatform.${ours}`;
