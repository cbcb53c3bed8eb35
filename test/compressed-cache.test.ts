// The compressed pages kept between starts (src/http/compressed-cache.ts): reused when they decompress to the page's
// exact bytes, compressed again when not (stale, torn or tampered), and never served wrong.
import { afterAll, describe, expect, test } from 'bun:test';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { cachedCompression, type Compressed } from '../src/http/compressed-cache';

const CACHE_DIR = join(import.meta.dir, '..', 'node_modules', '.cache', 'jobgraph-assets');
const SETTINGS = `test-${crypto.randomUUID()}`;
afterAll(() => {
  for (const name of readdirSync(CACHE_DIR)) if (name.includes(SETTINGS)) rmSync(join(CACHE_DIR, name));
});

function counting() {
  let calls = 0;
  const compress = async (bytes: Uint8Array): Promise<Compressed> => {
    calls++;
    return { gzip: new Uint8Array(gzipSync(bytes)), br: new Uint8Array(brotliCompressSync(bytes)) };
  };
  return { compress, calls: () => calls };
}

const page = (): Uint8Array<ArrayBuffer> => new TextEncoder().encode(`<html>${crypto.randomUUID().repeat(200)}</html>`);
const decompressesTo = ({ gzip, br }: Compressed, bytes: Uint8Array<ArrayBuffer>) => {
  expect(new Uint8Array(gunzipSync(gzip))).toEqual(bytes);
  expect(new Uint8Array(brotliDecompressSync(br))).toEqual(bytes);
};

describe('compressed pages kept between starts', () => {
  test('a page compressed once is read back from the cache the next time', async () => {
    const bytes = page();
    const { compress, calls } = counting();
    decompressesTo(await cachedCompression(bytes, SETTINGS, () => compress(bytes)), bytes);
    decompressesTo(await cachedCompression(bytes, SETTINGS, () => compress(bytes)), bytes);
    expect(calls()).toBe(1);
  });

  test('an entry that does not decompress to the page (tampered, torn) is compressed again, and replaced', async () => {
    const bytes = page();
    const { compress, calls } = counting();
    await cachedCompression(bytes, SETTINGS, () => compress(bytes));
    const entries = readdirSync(CACHE_DIR).filter((name) => name.includes(SETTINGS) && name.endsWith('.br'));
    for (const name of entries) writeFileSync(join(CACHE_DIR, name), brotliCompressSync('<script>alert(1)</script>'));
    decompressesTo(await cachedCompression(bytes, SETTINGS, () => compress(bytes)), bytes);
    for (const name of entries) writeFileSync(join(CACHE_DIR, name), 'not brotli at all');
    decompressesTo(await cachedCompression(bytes, SETTINGS, () => compress(bytes)), bytes);
    expect(calls()).toBe(3);
    // Replaced by good entries: the next start reads them.
    decompressesTo(await cachedCompression(bytes, SETTINGS, () => compress(bytes)), bytes);
    expect(calls()).toBe(3);
  });
});
