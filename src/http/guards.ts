// What every HTTP request on an API route passes before any work is done for it: the rate rule per client address,
// and one body rule for every route (measured before Yoga, so a refusal is a 413 with a code, not a crash).
import type { Logger } from 'pino';
import { ErrorCode } from '../errors';
import { readBodyLimited } from './body';
import type { AddressRateLimiter } from './rate-limit';
import { errorResponse } from './responses';

/** Who is asking, for the log lines a refusal writes. */
export interface RequestOrigin {
  requestId: string;
  clientAddress: string | null;
}

/** A 429 with Retry-After when the client's address is over its rate; null when the request may go ahead. */
export async function refuseOverRate(rateLimiter: AddressRateLimiter, log: Logger, { requestId, clientAddress }: RequestOrigin): Promise<Response | null> {
  const wait = await rateLimiter.take(clientAddress ?? 'unknown');
  if (wait === 0) return null;
  log.warn({ requestId, address: clientAddress }, 'rate limited');
  return errorResponse(429, ErrorCode.RATE_LIMITED, `too many requests; retry in ${wait} s`, { 'retry-after': String(wait) });
}

export interface BodyLimits {
  maxBodyBytes: number;
  /** Multipart uploads (calc files) may be larger than anything else. */
  maxUploadBytes: number;
}

/** The request's body, read up to its limit (a chunked body is counted as it streams in), or a 413. */
export async function readBodyWithinLimit(
  request: Request,
  limits: BodyLimits,
  log: Logger,
  { requestId, clientAddress }: RequestOrigin,
): Promise<{ bytes: Uint8Array<ArrayBuffer> } | Response> {
  const contentType = request.headers.get('content-type')?.toLowerCase() ?? '';
  const limit = contentType.startsWith('multipart/form-data') ? limits.maxUploadBytes : limits.maxBodyBytes;
  const tooLarge = (bytes: number) => {
    log.warn({ requestId, address: clientAddress, bytes }, 'request body too large');
    return errorResponse(413, ErrorCode.BAD_USER_INPUT, `request body of ${bytes} bytes exceeds the limit of ${limit} bytes`);
  };
  const declared = Number(request.headers.get('content-length') ?? 0);
  if (declared > limit) return tooLarge(declared);
  const body = await readBodyLimited(request, limit);
  return 'tooLarge' in body ? tooLarge(body.tooLarge) : body;
}

/** Files one multipart request may map (a calc job takes one); Yoga looks each up with a linear scan of the parts. */
export const MAX_UPLOAD_FILES = 16;

/**
 * A multipart GraphQL request with more parts than `operations`, `map` and MAX_UPLOAD_FILES files is refused before
 * Yoga reads it: Yoga looks each mapped file up with a scan of all parts, so tens of thousands cost quadratic time.
 * The parts are counted by their boundary in the bytes already read — no second parse of an upload.
 */
export function multipartProblem(contentType: string | null, bytes: Uint8Array): Response | null {
  const boundary = /^multipart\/form-data\b.*?;\s*boundary="?([^";]+)"?/i.exec(contentType ?? '')?.[1];
  if (!boundary) return null;
  const delimiter = Buffer.from(`--${boundary}`);
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // operations, map, the files, and the closing delimiter.
  const allowed = MAX_UPLOAD_FILES + 3;
  let delimiters = 0;
  for (let at = body.indexOf(delimiter); at !== -1; at = body.indexOf(delimiter, at + delimiter.length)) {
    if (++delimiters > allowed) {
      return errorResponse(400, ErrorCode.BAD_USER_INPUT, `a request may upload at most ${MAX_UPLOAD_FILES} files`, {}, { limit: 'files' });
    }
  }
  return null;
}
