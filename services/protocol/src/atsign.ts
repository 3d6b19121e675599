// The one atSign grammar: what the registrar hands out, the atServer serves and the CLI
// accepts (Part B's `<as>` narrowed to letters, marks, digits, `_`, `-` and emoji).
import { isValidAtSign } from "./keys";

export const MAX_ATSIGN_LENGTH = 55;

export class InvalidAtSignError extends Error {
  override name = "InvalidAtSignError";
}

/**
 * The canonical atSign body (no `@`): trimmed, one leading `@` dropped, NFC, lower-case.
 * Throws InvalidAtSignError saying what is wrong.
 */
export function atSignBody(input: string): string {
  const body = input.trim().replace(/^@/, "").normalize("NFC").toLowerCase();
  if (body.length === 0) throw new InvalidAtSignError("atSign is empty");
  if ([...body].length > MAX_ATSIGN_LENGTH)
    throw new InvalidAtSignError(`atSign longer than ${MAX_ATSIGN_LENGTH} characters`);
  if (!isValidAtSign(body))
    throw new InvalidAtSignError("atSign may only contain letters, digits, '_', '-' and emoji");
  return body;
}
