// Metadata semantics over the raw KeyStore: what `update`, `update:meta` and `delete` do to
// a key's value, metadata and expiry, and how a read sees it (Part B §3.5-3.10, §4.3).
import {
  applyMetadata,
  isActive,
  type MetadataInput,
  type StoredMetadata,
} from "@atplatform/protocol/src/core";
import type { KeyStore, StoredEntry } from "../store";

export interface KeyRecord {
  key: string;
  value: string | null;
  metadata: StoredMetadata;
  commitId: number;
}

/** Settings flag set once the CRAM secret is deleted: CRAM stays off for good. */
export const CRAM_DISABLED_SETTING = "cram_disabled";
export const AT_SECRET_KEY = "privatekey:at_secret";
export const AT_SECRET_DELETED_KEY = "privatekey:at_secret_deleted";

function toRecord(e: StoredEntry): KeyRecord {
  return {
    key: e.key,
    value: e.value,
    metadata: e.metadata as unknown as StoredMetadata,
    commitId: e.commitId,
  };
}

export class KeyService {
  constructor(
    readonly store: KeyStore,
    readonly atSign: string,
    readonly now: () => number,
  ) {}

  /** The key if it exists at all (active or not). */
  find(key: string): KeyRecord | undefined {
    const e = this.store.peek(key);
    if (!e) return undefined;
    // Metadata-less rows (written by the server itself) get a minimal shape.
    return toRecord(e);
  }

  /** The key when it exists and is active now. */
  active(key: string): KeyRecord | undefined {
    const r = this.find(key);
    return r && this.isActive(r) ? r : undefined;
  }

  isActive(r: KeyRecord): boolean {
    return isActive(r.metadata, this.now());
  }

  /** `update`: new value and metadata. Returns the commit id (-1 for unsynced keys). */
  put(key: string, value: string | null, input: MetadataInput = {}, by = this.atSign): number {
    const existing = this.find(key)?.metadata;
    const metadata = applyMetadata(existing, input, { now: this.now(), by, mode: "update" });
    return this.store.put(key, value, metadata as unknown as Record<string, unknown>, {
      expiresAt: metadata.expiresAt ?? null,
      availableAt: metadata.availableAt ?? null,
    });
  }

  /** A server record that is never synced (enrollments, OTPs): plain metadata, no commit. */
  putUnsynced(key: string, value: string, input: MetadataInput = {}): void {
    const existing = this.find(key)?.metadata;
    const metadata = applyMetadata(existing, input, {
      now: this.now(),
      by: this.atSign,
      mode: "update",
    });
    this.store.put(key, value, metadata as unknown as Record<string, unknown>, {
      expiresAt: metadata.expiresAt ?? null,
      availableAt: metadata.availableAt ?? null,
      skipCommit: true,
    });
  }

  /** `update:meta`: metadata only; creates a value-less key if absent. */
  putMeta(key: string, input: MetadataInput, by = this.atSign): number {
    const existing = this.find(key);
    const metadata = applyMetadata(existing?.metadata, input, {
      now: this.now(),
      by,
      mode: "meta",
    });
    const opts = {
      expiresAt: metadata.expiresAt ?? null,
      availableAt: metadata.availableAt ?? null,
    };
    const meta = metadata as unknown as Record<string, unknown>;
    const id = existing ? this.store.updateMetadata(key, meta, opts) : undefined;
    return id ?? this.store.put(key, existing?.value ?? null, meta, opts);
  }

  /** Deletes; the commit id, or undefined when there was nothing to delete. */
  delete(key: string): number | undefined {
    return this.store.delete(key);
  }

  /** A value written by the server itself (signing keys, secrets): plain metadata. */
  putInternal(key: string, value: string): number {
    return this.put(key, value, {});
  }

  get cramDisabled(): boolean {
    return this.store.getSetting(CRAM_DISABLED_SETTING) === "true";
  }

  /** The CRAM secret, unless it was deleted. */
  cramSecret(): string | undefined {
    if (this.cramDisabled) return undefined;
    return this.store.peek(AT_SECRET_KEY)?.value ?? undefined;
  }

  /** Imports the secret on first start; never again once it was deleted. */
  importCramSecret(secret: string): boolean {
    if (this.cramDisabled || this.store.peek(AT_SECRET_DELETED_KEY)) return false;
    if (this.store.peek(AT_SECRET_KEY)) return false;
    this.putInternal(AT_SECRET_KEY, secret);
    return true;
  }

  /** `delete:privatekey:at_secret`: CRAM is off for good. */
  deleteCramSecret(): void {
    this.store.setSetting(CRAM_DISABLED_SETTING, "true");
    this.putInternal(AT_SECRET_DELETED_KEY, "true");
    this.store.delete(AT_SECRET_KEY);
  }
}
