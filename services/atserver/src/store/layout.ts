import { join } from "node:path";

// Files of one atSign's store inside its storage directory.
export const DB_FILE = "store.sqlite";
export const OWNER_FILE = "store.owner";

export function dbPath(dir: string): string {
  return join(dir, DB_FILE);
}

export function ownerPath(dir: string): string {
  return join(dir, OWNER_FILE);
}
