// The gates a GraphQL request must pass before the server may answer it without Yoga's HTTP layer — a cached answer
// (response-cache.ts) or the fast path (graphql-fast-path.ts). They are the ones Yoga applies, stated once and checked
// before any cache lookup: a request that fails one goes to Yoga, which refuses it (CSRF: 403, Accept: 406, CORS…) or
// answers it in its own words, so a hit can never be served where a miss would have been refused.

/** The two media types a direct answer is written in. */
export type DirectAnswerType = 'application/json' | 'application/graphql-response+json';

const PLAIN_ACCEPTS: Record<string, DirectAnswerType> = {
  '*/*': 'application/json',
  'application/json': 'application/json',
  'application/graphql-response+json': 'application/graphql-response+json',
};
const PARAM_KEYS = new Set(['query', 'variables', 'operationName', 'extensions']);

/**
 * The media type Yoga would answer with, when every entry of Accept is a plain one without parameters (the first
 * wins, as in Yoga); null for anything else (a stream, a charset, q-values, another type), which Yoga decides.
 */
function plainAnswerType(accept: string | null): DirectAnswerType | null {
  if (accept === null || accept.trim() === '') return 'application/json';
  let first: DirectAnswerType | null = null;
  for (const entry of accept.split(',')) {
    const type = PLAIN_ACCEPTS[entry.trim().toLowerCase()];
    if (!type) return null;
    first ??= type;
  }
  return first;
}

/** Whether a Content-Type's media type (before any parameter) is exactly application/json. */
function isJsonContentType(contentType: string | null): boolean {
  const semicolon = contentType?.indexOf(';') ?? -1;
  return (semicolon === -1 ? contentType : contentType!.slice(0, semicolon))?.trim().toLowerCase() === 'application/json';
}

/**
 * The media type of a direct answer to this JSON POST, or null when only Yoga may answer it: a cross-origin request
 * (CORS is Yoga's), a body that is not exactly JSON (`text/plain;application/json` is a "simple" type: CSRF
 * prevention's), an Accept other than the plain ones, or body keys Yoga would judge.
 */
export function directAnswerType(request: Request, params: object): DirectAnswerType | null {
  if (request.method !== 'POST' || request.headers.has('origin')) return null;
  if (!isJsonContentType(request.headers.get('content-type'))) return null;
  for (const key in params) if (!PARAM_KEYS.has(key)) return null;
  return plainAnswerType(request.headers.get('accept'));
}
