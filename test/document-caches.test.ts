// Issue 20 item 2: every cache keyed by a document's text is bounded by bytes, and a document above the per-entry size
// is never cached — read through /metrics (jobgraph_document_cache_bytes), so no RSS or clock is involved.
// bench/document-memory.ts measures the same at full size (1,000 × 1 MB) as RSS.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

const BUDGET = 16 * 1024;
const MAX_ENTRY = 2048;

describe('document caches are bounded by bytes (DOCUMENT_CACHE_BYTES, MAX_CACHED_DOCUMENT_BYTES)', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer({ DOCUMENT_CACHE_BYTES: String(BUDGET), MAX_CACHED_DOCUMENT_BYTES: String(MAX_ENTRY), ANONYMOUS_ACCESS: 'analytics' });
    admin = await server.adminToken();
  });
  afterAll(() => server.stop());

  /** Each cache's bytes and entries, as /metrics reports them. */
  const cacheSizes = async () => {
    const text = await (await fetch(server.url.replace('/graphql', '/metrics'))).text();
    const read = (metric: string) =>
      Object.fromEntries([...text.matchAll(new RegExp(`^${metric}\\{cache="([^"]+)"\\} (\\d+)$`, 'gm'))].map((m) => [m[1]!, Number(m[2])]));
    return { bytes: read('jobgraph_document_cache_bytes'), entries: read('jobgraph_document_cache_entries') };
  };
  /** A valid document of `size` bytes, distinct per `name`. */
  const documentOf = (name: string, size: number) => {
    const head = `query ${name} { analytics { questions { text } } }\n# `;
    return head + 'x'.repeat(size - head.length);
  };
  const ask = async (query: string, token?: string) => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { data?: unknown; errors?: unknown };
    expect(body.errors).toBeUndefined();
    return body;
  };

  test('a small document is cached; one above MAX_CACHED_DOCUMENT_BYTES is answered but not kept', async () => {
    const before = await cacheSizes();
    await ask(documentOf('Small', 500), admin);
    const afterSmall = await cacheSizes();
    expect(afterSmall.bytes.parse! - (before.bytes.parse ?? 0)).toBe(500);
    expect(afterSmall.bytes['fast path']! - (before.bytes['fast path'] ?? 0)).toBe(500);

    const large = await ask(documentOf('Large', MAX_ENTRY + 1), admin);
    expect(large.data).toEqual((await ask(documentOf('Small', 500), admin)).data!);
    const afterLarge = await cacheSizes();
    for (const cache of ['parse', 'fast path', 'never cached']) expect(afterLarge.bytes[cache] ?? 0).toBe(afterSmall.bytes[cache] ?? 0);
  });

  test('many distinct documents, anonymous and signed in, never hold more than DOCUMENT_CACHE_BYTES per cache', async () => {
    for (let i = 0; i < 60; i++) await ask(documentOf(`Many${i}`, 1500), i % 2 ? admin : undefined);
    const { bytes, entries } = await cacheSizes();
    for (const cache of ['parse', 'fast path']) {
      expect(bytes[cache]!).toBeGreaterThan(BUDGET / 2);
      expect(bytes[cache]!).toBeLessThanOrEqual(BUDGET);
      expect(entries[cache]!).toBeLessThanOrEqual(Math.floor(BUDGET / 1500));
    }
    // Parse errors are cached by text too, within the same bounds.
    for (let i = 0; i < 30; i++) {
      const response = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ broken${i} ${'x'.repeat(1500)}` }) });
      expect(response.status).toBeLessThan(500);
    }
    expect((await cacheSizes()).bytes['parse errors']!).toBeLessThanOrEqual(BUDGET);
  });
});
