// Client-supplied regular expressions (scan, sync, stats, monitor) run against our keys.
// JavaScript has no regex timeout, so refuse the shapes that backtrack catastrophically:
// nested quantifiers, back-references, and very long patterns.
import { InvalidSyntaxError } from "@atplatform/protocol";

const MAX_PATTERN = 512;
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d)/;

export function safeRegex(pattern: string): RegExp {
  if (pattern.length > MAX_PATTERN) throw new InvalidSyntaxError("regex too long");
  if (NESTED_QUANTIFIER.test(pattern) || /\\[1-9]|\\k</.test(pattern)) {
    throw new InvalidSyntaxError(`regex not allowed: ${pattern}`);
  }
  try {
    return new RegExp(pattern, "u");
  } catch {
    try {
      return new RegExp(pattern);
    } catch {
      throw new InvalidSyntaxError(`invalid regex: ${pattern}`);
    }
  }
}
