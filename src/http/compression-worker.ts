// Compresses a static asset off the main thread and off the shared thread pool (where argon2 and file I/O wait
// their turn): a start-up's compression must not delay its first logins. One message in, one answer out.
/// <reference lib="webworker" />
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

declare const self: Worker;

export interface CompressionRequest {
  id: number;
  bytes: Uint8Array<ArrayBuffer>;
  brotliQuality: number;
  gzipLevel: number;
}
export interface CompressionAnswer {
  id: number;
  gzip: Uint8Array<ArrayBuffer>;
  br: Uint8Array<ArrayBuffer>;
}

self.onmessage = ({ data }: MessageEvent<CompressionRequest>) => {
  const { id, bytes, brotliQuality, gzipLevel } = data;
  const gzip = new Uint8Array(gzipSync(bytes, { level: gzipLevel }));
  const br = new Uint8Array(
    brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: brotliQuality, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }),
  );
  self.postMessage({ id, gzip, br } satisfies CompressionAnswer, [gzip.buffer, br.buffer]);
};
