// Builds the pages jobgraph serves itself off the main thread: GraphiQL rendered, the dashboard bundled, each
// compressed with gzip and brotli (or read back from the disk cache). The thread ends once nothing is asked of it, and
// with it go GraphiQL's 9 MB renderer module, the bundler's memory and the page's uncompressed copies: the main
// thread keeps only what it serves. One message in, one answer out.
/// <reference lib="webworker" />
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { cachedCompression } from './compressed-cache';

declare const self: Worker;

export interface StaticAsset {
  contentType: string;
  cacheControl: string;
  /** The bytes as they are; null for a large page, whose gzip copy is decompressed for the rare client that accepts neither coding. */
  identity: Uint8Array<ArrayBuffer> | null;
  /** The uncompressed length. */
  size: number;
  gzip: Uint8Array<ArrayBuffer>;
  br: Uint8Array<ArrayBuffer>;
  /** The identity bytes' hash; each encoding's ETag adds its own suffix (a strong ETag names one representation). */
  hash: string;
}

/** An asset as the worker hands it back, with its path (`/` for a page). */
export interface BuiltAsset extends StaticAsset {
  path: string;
}

/** What the worker builds: GraphiQL's page from Yoga's renderer options, or the dashboard from its HTML entry. */
export type AssetBuild =
  | { kind: 'graphiql'; options: Record<string, unknown>; cacheControl: string; scriptPrefix: string; scriptCacheControl: string }
  | { kind: 'dashboard'; entry: string; publicPath: string; pageCacheControl: string; bundleCacheControl: string };

export interface AssetRequest {
  id: number;
  build: AssetBuild;
}
export type AssetAnswer = { id: number; assets: BuiltAsset[] } | { id: number; failure: string };

/** Brotli's best quality takes 12 s over GraphiQL's 9 MB; quality 5 takes 0.2 s and loses 13% to it. */
const BROTLI_QUALITY_LARGE = 5;
/** gzip -9 over those 9 MB takes 70% longer than -6 for 1% less. */
const GZIP_LEVEL_LARGE = 6;
/**
 * Compressed at the qualities above (GraphiQL's page, about 1 MB of icons once its scripts are files, takes seconds at
 * the best one too); and the main thread keeps no uncompressed copy: the rare client that accepts neither coding gets
 * gzip decompressed as it is sent.
 */
export const LARGE_BYTES = 256 * 1024;

async function compressed(path: string, bytes: Uint8Array<ArrayBuffer>, contentType: string, cacheControl: string): Promise<BuiltAsset> {
  const large = bytes.length > LARGE_BYTES;
  const [brotliQuality, gzipLevel] = large ? [BROTLI_QUALITY_LARGE, GZIP_LEVEL_LARGE] : [11, 9];
  const { gzip, br } = await cachedCompression(bytes, `br${brotliQuality}-gz${gzipLevel}`, async () => ({
    gzip: new Uint8Array(gzipSync(bytes, { level: gzipLevel })),
    br: new Uint8Array(
      brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: brotliQuality, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }),
    ),
  }));
  // An ETag needs no cryptographic hash: Bun's fast one, over the bytes as they are.
  const hash = Bun.hash(bytes).toString(36);
  return { path, contentType, cacheControl, identity: large ? null : bytes, size: bytes.length, gzip, br, hash };
}

async function build(request: AssetBuild): Promise<BuiltAsset[]> {
  if (request.kind === 'graphiql') {
    const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
    const scripts: [name: string, body: string][] = [];
    // An HTML parser ends a script at its first `</script>`; the renderer escapes the ones inside strings (`<\/script>`).
    const html = renderGraphiQL(request.options).replace(/<script>([\s\S]*?)<\/script>/g, (_tag, body: string) => {
      const name = `${Bun.hash(body).toString(36)}.js`;
      scripts.push([name, body]);
      return `<script src="${request.scriptPrefix}${name}"></script>`;
    });
    const encoder = new TextEncoder();
    return Promise.all([
      compressed('/', encoder.encode(html), 'text/html; charset=utf-8', request.cacheControl),
      ...scripts.map(([name, body]) => compressed(name, encoder.encode(body), 'text/javascript; charset=utf-8', request.scriptCacheControl)),
    ]);
  }
  const { entry, publicPath, pageCacheControl, bundleCacheControl } = request;
  const result = await Bun.build({ entrypoints: [entry], target: 'browser', minify: true, publicPath });
  if (!result.success) throw new Error(result.logs.map(String).join('\n'));
  return Promise.all(
    result.outputs.map(async (output) => {
      const isPage = output.path.endsWith('.html');
      const path = isPage ? '/' : output.path.replace(/^\.\//, '/');
      return compressed(path, new Uint8Array(await output.arrayBuffer()), output.type, isPage ? pageCacheControl : bundleCacheControl);
    }),
  );
}

self.onmessage = async ({ data }: MessageEvent<AssetRequest>) => {
  const { id } = data;
  let answer: AssetAnswer;
  try {
    answer = { id, assets: await build(data.build) };
  } catch (error) {
    answer = { id, failure: error instanceof Error ? error.message : String(error) };
  }
  const transfer = 'assets' in answer ? answer.assets.flatMap((asset) => [asset.gzip.buffer, asset.br.buffer, ...(asset.identity ? [asset.identity.buffer] : [])]) : [];
  self.postMessage(answer, transfer);
};
