// Compressed pages kept on disk between starts (node_modules/.cache/jobgraph-assets/): GraphiQL's 9 MB cost about
// 1.5 s of CPU to compress, the same bytes every start (every spawned server of the test suite paid it too). An
// entry is used only if it decompresses to exactly the page's bytes, so a stale, torn or tampered file is simply
// compressed again; a cache that cannot be written (a read-only install) changes nothing but the time.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip } from 'node:zlib';

const CACHE_DIR = join(import.meta.dir, '..', '..', 'node_modules', '.cache', 'jobgraph-assets');
const brotliDecompressAsync = promisify(brotliDecompress);
const gunzipAsync = promisify(gunzip);

export interface Compressed {
  gzip: Uint8Array<ArrayBuffer>;
  br: Uint8Array<ArrayBuffer>;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

async function read(path: string): Promise<Uint8Array<ArrayBuffer> | null> {
  const file = Bun.file(path);
  return (await file.exists()) ? new Uint8Array(await file.arrayBuffer()) : null;
}

/** `bytes` compressed by `compress` at `settings` (named in the key), from the disk cache when a checked entry is there. */
export async function cachedCompression(bytes: Uint8Array<ArrayBuffer>, settings: string, compress: () => Promise<Compressed>): Promise<Compressed> {
  const key = join(CACHE_DIR, `${Bun.hash(bytes).toString(36)}-${bytes.length}-${settings}`);
  try {
    const [gzip, br] = await Promise.all([read(`${key}.gz`), read(`${key}.br`)]);
    if (gzip && br) {
      const [unzipped, unbrotlied] = await Promise.all([gunzipAsync(gzip), brotliDecompressAsync(br)]);
      if (sameBytes(unzipped, bytes) && sameBytes(unbrotlied, bytes)) return { gzip, br };
    }
  } catch {
    // Not there, or not what it should be: compressed again below.
  }
  const compressed = await compress();
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    // Written aside, then renamed: a process reading at the same time sees a whole file or none.
    for (const [suffix, data] of [['.gz', compressed.gzip], ['.br', compressed.br]] as const) {
      const aside = `${key}${suffix}.${process.pid}.tmp`;
      writeFileSync(aside, data);
      renameSync(aside, `${key}${suffix}`);
    }
  } catch {
    // A read-only install: every start compresses, as without the cache.
  }
  return compressed;
}
