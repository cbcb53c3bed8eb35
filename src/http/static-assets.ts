// The pages jobgraph serves itself (GraphiQL, the dashboard): built and compressed once, at start, with gzip and
// brotli in a thread of their own (asset-worker.ts), and answered with an ETag, so a browser revalidates a page with a
// 304 and never fetches a hashed bundle twice.
import type { AssetAnswer, AssetBuild, AssetRequest, BuiltAsset, StaticAsset } from './asset-worker';

export type { AssetBuild, BuiltAsset, StaticAsset } from './asset-worker';

/** Hashed bundles never change under their name; pages are revalidated (their ETag) on every load. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const REVALIDATE = 'no-cache';

/** One worker thread for every asset of the process, started on demand and ended once it has nothing to do. */
export const buildAssets = (() => {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, (answer: AssetAnswer) => void>();
  return (build: AssetBuild): Promise<BuiltAsset[]> => {
    if (!worker) {
      worker = new Worker(new URL('./asset-worker.ts', import.meta.url));
      // A process may exit with a build under way (a short test, a failed start). (The dashboard's DOM typings hide
      // Bun's `unref` on Worker.)
      (worker as unknown as { unref(): void }).unref();
      worker.onmessage = ({ data }: MessageEvent<AssetAnswer>) => {
        pending.get(data.id)?.(data);
        pending.delete(data.id);
        if (pending.size === 0) {
          worker?.terminate();
          worker = null;
        }
      };
      // A worker that dies (its module failed to load, say) answers every build it held with why, not silence.
      worker.onerror = (event) => {
        event.preventDefault?.();
        for (const [id, answer] of pending) answer({ id, failure: `the asset worker failed: ${event.message ?? 'unknown error'}` });
        pending.clear();
        worker?.terminate();
        worker = null;
      };
    }
    const id = nextId++;
    worker.postMessage({ id, build } satisfies AssetRequest);
    return new Promise<AssetAnswer>((resolve) => pending.set(id, resolve)).then((answer) => {
      if ('failure' in answer) throw new Error(answer.failure);
      return answer.assets;
    });
  };
})();

/**
 * The pages' Content-Security-Policy: scripts only from files this server serves (no inline script, no eval), so an
 * injected `<script>` or `onerror=` never runs; no other site may frame them. Styles may be inline (GraphiQL's
 * editor sets them), images and fonts may be data: URLs (icons), and GraphiQL's editor starts its workers from blob:.
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
const PAGE_HEADERS = { 'x-frame-options': 'DENY', 'content-security-policy': PAGE_CSP };

type Encoding = 'br' | 'gzip' | 'identity';
const ETAG_SUFFIX: Record<Encoding, string> = { br: '-br', gzip: '-gz', identity: '' };

/** The best encoding the client accepts (`br` over `gzip`); a coding with `q=0` is refused. */
function chooseEncoding(acceptEncoding: string | null): Encoding {
  const accepted = new Set(
    (acceptEncoding ?? '')
      .split(',')
      .map((part) => part.trim().toLowerCase().split(';'))
      .filter(([, ...params]) => !params.some((param) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(param)))
      .map(([coding]) => coding!.trim()),
  );
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return 'identity';
}

/** The asset in the encoding the request accepts; a 304 when its If-None-Match names any representation of it. */
export function serveAsset(asset: StaticAsset, request: Request): Response {
  const encoding = chooseEncoding(request.headers.get('accept-encoding'));
  const etag = `"${asset.hash}${ETAG_SUFFIX[encoding]}"`;
  const headers: Record<string, string> = { etag, 'cache-control': asset.cacheControl, vary: 'Accept-Encoding', 'x-content-type-options': 'nosniff' };
  // The pages act with the signed-in user's token: no injected script runs, no other site frames them (clickjacking).
  if (asset.contentType.startsWith('text/html')) Object.assign(headers, PAGE_HEADERS);
  const ifNoneMatch = request.headers.get('if-none-match');
  if (ifNoneMatch && matchesAnyRepresentation(ifNoneMatch, asset.hash)) return new Response(null, { status: 304, headers });
  if (encoding !== 'identity') headers['content-encoding'] = encoding;
  headers['content-type'] = asset.contentType;
  const body = encoding === 'identity' ? (asset.identity ?? gunzipped(asset.gzip)) : asset[encoding];
  const length = encoding === 'identity' ? asset.size : asset[encoding].length;
  return new Response(request.method === 'HEAD' ? null : body, { headers: { ...headers, 'content-length': String(length) } });
}

/** Weak comparison (RFC 9110 §13.1.2): `W/` ignored; a cached gzip copy still matches when brotli is negotiated now. */
function matchesAnyRepresentation(ifNoneMatch: string, hash: string): boolean {
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => {
    const opaque = tag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
    return Object.values(ETAG_SUFFIX).some((suffix) => opaque === `${hash}${suffix}`);
  });
}

/** Decompressed as it is sent, so no uncompressed copy stays in memory. */
const gunzipped = (gzip: Uint8Array<ArrayBuffer>) => new Blob([gzip]).stream().pipeThrough(new DecompressionStream('gzip'));
