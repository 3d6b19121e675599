// Docker secrets of atServers: the CRAM secret (one per atSign, content-addressed) and the
// swarm's wildcard TLS pair (published by the swarm's maintenance job, label
// atplatform.tls=wildcard, names atserver-tls-{crt,key}-<hash>).
import { orchestratorLogger as log } from "../../logger";
import type { EngineClient } from "./engine-client";
import { EngineConflictError, EngineError, EngineNotFoundError } from "./errors";
import {
  caSecretName,
  cramSecretName,
  LABEL_ATSIGN,
  LABEL_KIND,
  LABEL_TLS,
  type SecretRef,
} from "./service-spec";

export interface EngineSecret {
  ID: string;
  CreatedAt?: string;
  Spec: { Name: string; Labels?: Record<string, string> };
}

/** No wildcard certificate has been published in the swarm yet (retry later). */
export class NoCertificateError extends EngineError {
  override name = "NoCertificateError";
}

/** Creates the atSign's CRAM secret unless a secret of that (content-derived) name exists. */
export function ensureCramSecret(
  client: EngineClient,
  atsign: string,
  content: string,
): Promise<SecretRef> {
  return ensureSecret(
    client,
    cramSecretName(atsign, content),
    { [LABEL_ATSIGN]: atsign, [LABEL_KIND]: "cram" },
    content,
  );
}

/** The swarm's CA bundle for atServer peers (optional), shared by every atServer. */
export function ensureCaSecret(client: EngineClient, pem: string): Promise<SecretRef> {
  return ensureSecret(client, caSecretName(pem), { [LABEL_TLS]: "ca" }, pem);
}

/** Creates a content-addressed secret; a 409 means it exists with this content: reuse it. */
async function ensureSecret(
  client: EngineClient,
  name: string,
  labels: Record<string, string>,
  content: string,
): Promise<SecretRef> {
  try {
    const created = await client.call<{ ID: string }>({
      method: "POST",
      path: "/secrets/create",
      body: { Name: name, Labels: labels, Data: Buffer.from(content, "utf8").toString("base64") },
    });
    return { id: created.ID, name };
  } catch (err) {
    if (!(err instanceof EngineConflictError)) throw err;
    const found = await client.call<EngineSecret[]>({
      method: "GET",
      path: "/secrets",
      query: { filters: { name: [name] } },
    });
    // The name filter matches prefixes too; only the exact name is ours.
    const s = found.find((x) => x.Spec.Name === name);
    if (!s) throw err;
    return { id: s.ID, name };
  }
}

/** The newest complete wildcard certificate pair published in the swarm. */
export async function wildcardPair(
  client: EngineClient,
): Promise<{ cert: SecretRef; key: SecretRef }> {
  const all = await client.call<EngineSecret[]>({
    method: "GET",
    path: "/secrets",
    query: { filters: { label: [`${LABEL_TLS}=wildcard`] } },
  });
  const byName = new Map(all.map((s) => [s.Spec.Name, s]));
  const certs = all
    .filter((s) => s.Spec.Name.startsWith("atserver-tls-crt-"))
    .sort((a, b) => (b.CreatedAt ?? "").localeCompare(a.CreatedAt ?? ""));
  for (const c of certs) {
    const keyName = c.Spec.Name.replace("atserver-tls-crt-", "atserver-tls-key-");
    const k = byName.get(keyName);
    if (k) return { cert: { id: c.ID, name: c.Spec.Name }, key: { id: k.ID, name: keyName } };
  }
  throw new NoCertificateError(
    "no wildcard certificate secrets (label atplatform.tls=wildcard) yet",
    client.swarm.name,
    "GET /secrets",
  );
}

/** Removes the atSign's CRAM secrets except `keep`; a secret still in use is left for later. */
export async function removeCramSecrets(
  client: EngineClient,
  atsign: string,
  keep?: string,
): Promise<void> {
  const mine = await client.call<EngineSecret[]>({
    method: "GET",
    path: "/secrets",
    query: { filters: { label: [`${LABEL_ATSIGN}=${atsign}`, `${LABEL_KIND}=cram`] } },
  });
  for (const s of mine) {
    if (s.Spec.Name === keep) continue;
    try {
      await client.call({ method: "DELETE", path: `/secrets/${s.ID}` });
    } catch (err) {
      if (err instanceof EngineNotFoundError) continue;
      if (err instanceof EngineError && !isTransport(err)) {
        log.warn({ atsign, secret: s.Spec.Name, err: err.message }, "old secret not removed");
        continue;
      }
      throw err;
    }
  }
}

function isTransport(err: EngineError): boolean {
  return err.name === "EngineUnreachableError" || err.name === "EngineTimeoutError";
}
