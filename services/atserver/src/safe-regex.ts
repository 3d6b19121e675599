// Client-supplied regular expressions (scan, sync, stats, monitor) run against our keys.
// JavaScript regexes backtrack and have no timeout, so a pattern like `(a|aa)+$` could
// freeze the server. We compile them with V8's linear-time engine (the `l` flag): any
// pattern it cannot run in linear time (back-references, look-arounds) is refused. The
// fallback flag also moves any other regex that backtracks excessively onto that engine.
import { setFlagsFromString } from "node:v8";
import { InvalidSyntaxError } from "@atplatform/protocol/src/core";

setFlagsFromString("--enable-experimental-regexp-engine");
setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");

const MAX_PATTERN = 1024;

export function safeRegex(pattern: string): RegExp {
  if (pattern.length > MAX_PATTERN) throw new InvalidSyntaxError("regex too long");
  try {
    // eslint-disable-next-line no-invalid-regexp -- `l` is V8's linear-time engine, enabled above
    return new RegExp(pattern, "l");
  } catch {
    throw new InvalidSyntaxError(`Invalid regular expression. ${pattern} is not a valid regex`);
  }
}
