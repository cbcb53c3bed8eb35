/** A body read up to a limit: its bytes, or how many bytes had arrived when the limit was passed. */
export type LimitedBody = { bytes: Uint8Array<ArrayBuffer> } | { tooLarge: number };

/**
 * Reads a request body, refusing it as soon as more than `limit` bytes have arrived. A declared Content-Length was
 * checked before (and Bun holds the client to it); a chunked body has none, so it is counted as it streams in and
 * never buffered past the limit.
 */
export async function readBodyLimited(request: Request, limit: number): Promise<LimitedBody> {
  if (!request.body) return { bytes: new Uint8Array() };
  if (request.headers.has('content-length')) return { bytes: new Uint8Array(await request.arrayBuffer()) };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel('request body too large').catch(() => {});
      return { tooLarge: total };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(new ArrayBuffer(total));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes };
}

/** The JSON parameters of a GET query string that must be JSON objects, checked before Yoga parses them. */
export function queryStringProblem(url: URL): string | null {
  for (const name of ['variables', 'extensions']) {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === '') continue;
    try {
      JSON.parse(raw);
    } catch {
      return `"${name}" in the query string must be JSON (URL-encoded)`;
    }
  }
  return null;
}
