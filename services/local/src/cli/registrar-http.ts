// One JSON call to the registrar's HTTP API (onboarding or admin), its refusals as errors.

export class RegistrarApiError extends Error {
  override name = "RegistrarApiError";
}

export async function registrarJson(
  url: string,
  method: string,
  authorization: string,
  body?: unknown,
): Promise<any> {
  const res = await fetch(url, {
    method,
    headers: {
      Authorization: authorization,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RegistrarApiError(`registrar answered ${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok)
    throw new RegistrarApiError(`registrar answered ${res.status}: ${json.message ?? text}`);
  return json;
}
