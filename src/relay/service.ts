import CachePolicy from 'http-cache-semantics';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock';
import type { Database } from '../db/client';
import type { Statements } from '../db/statements';
import type { relayCache } from '../db/schema';
import { DomainError, unavailable } from '../errors';
import { parseInput } from '../input';
import { isUnderBase, relayPathInput, restaurantIdInput } from './path';
import * as sql from './sql';

export interface RelayOptions {
  upstream: string | undefined;
  /** Freshness of answers that carry no Cache-Control or Expires. */
  defaultTtlSeconds: number;
  timeoutMs: number;
  /** Memory the cached entries may take, as {@link entrySize} estimates it; the least recently used go first. */
  cacheMaxBytes: number;
  maxResponseBytes: number;
  /** Where freshness and age are measured (tests move it instead of waiting out a max-age). */
  clock?: Clock;
}

export interface RelayResponse {
  path: string;
  url: string;
  status: number;
  /** The headers of interest (content-type, cache-control, etag, last-modified, expires, age, date). */
  headers: Record<string, string>;
  body: unknown;
  /** The body as the upstream sent it (text, or bytes when it is not UTF-8), whatever its content type. */
  content: string | Uint8Array<ArrayBuffer>;
  /** The upstream sent a non-empty body of another type than JSON: `body` is null, `content` has it. */
  notJson: boolean;
  /** Answered from the cache (fresh, revalidated, or stale). */
  cached: boolean;
  /** Served past its freshness because the upstream failed. */
  stale: boolean;
  /** A 304 from the upstream confirmed the cached copy. */
  revalidated: boolean;
  fetchedAt: Date;
  /** How much longer this answer stays fresh (0 when stale or not stored): the bound on reusing it. */
  freshForMs: number;
}

/** Where a caller hears how long the answers it used stay fresh (a GraphQL response's cache lifetime). */
export interface FreshnessListener {
  limit(ms: number): void;
}

interface Entry {
  url: string;
  status: number;
  /** The kept headers; BODY_ENCODING too when `body` holds base64. */
  headers: Record<string, string>;
  /** The body's text, or its bytes in base64 when they are not UTF-8 (see BODY_ENCODING). */
  body: string;
  /** The parsed body; null when empty or not JSON. */
  json: unknown;
  notJson: boolean;
  policy: CachePolicy;
  fetchedAt: Date;
  lastUsedAt: Date;
  /** What it was counted as when stored (see entrySize). */
  size: number;
}

const KEPT_HEADERS = ['content-type', 'cache-control', 'etag', 'last-modified', 'expires', 'age', 'date', 'vary'];
/**
 * Stored beside the kept headers (no migration): `base64` when the body is bytes that are not UTF-8 text. A
 * pseudo-header's name, which no upstream header can have; never forwarded or shown.
 */
export const BODY_ENCODING = ':body-encoding';
/** Statuses whose answers are worth caching (when their headers allow it); a redirect never is, it is followed. */
const CACHEABLE_STATUSES = new Set([200, 203, 204, 404, 410]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Redirects followed for one request, each within the upstream base. */
export const MAX_REDIRECTS = 5;
const FLUSH_INTERVAL_MS = 5000;
/**
 * Memory an entry takes besides its strings: the Map slot, the entry, its Dates, the CachePolicy and its parsed
 * headers. Measured (bun:jsc heapStats after a full GC, 20,000 entries with a body of `null`): ~950 bytes of heap,
 * ~1,900 bytes of RSS an entry; a relay test keeps this estimate above the heap the entries take.
 */
export const ENTRY_OVERHEAD_BYTES = 1536;

/** JSON.parse makes a ~72-byte object of every `{` and `[` (measured), and an 8-byte slot of every value. */
const JSON_CONTAINER_BYTES = 72;
const JSON_VALUE_BYTES = 8;

/**
 * The bytes one cache entry holds, estimated from above: 2 bytes a character for its strings (a JavaScript string
 * may be UTF-16) — the URL, the kept headers, the body text and its parsed JSON's strings — plus the parsed JSON's
 * objects, arrays and value slots, counted from the text (a `[` in a string counts too: an overestimate, and a flat
 * loop, safe however deep the nesting).
 */
function entrySize(entry: Pick<Entry, 'url' | 'headers' | 'body'>): number {
  let characters = entry.url.length + 2 * entry.body.length;
  for (const [name, value] of Object.entries(entry.headers)) characters += name.length + value.length;
  let json = 0;
  for (let i = 0; i < entry.body.length; i++) {
    const code = entry.body.charCodeAt(i);
    if (code === 0x7b || code === 0x5b) json += JSON_CONTAINER_BYTES; // { [
    else if (code === 0x2c) json += JSON_VALUE_BYTES; // ,
  }
  return ENTRY_OVERHEAD_BYTES + 2 * characters + json;
}

type PolicyRequest = CachePolicy.Request;

/**
 * GETs to the upstream API through a persistent, HTTP-correct cache (RFC 9111 semantics by http-cache-semantics,
 * as a shared cache): fresh entries are served without a request, stale ones revalidated with ETag / Last-Modified,
 * `no-store` answers never kept, a stale entry served (flagged) when the upstream fails, one upstream request per
 * URL however many callers miss at once, and the least recently used entries evicted past a size bound.
 * Every entry lives in memory and in the database (the same set), so a restart keeps the cache and a hit costs no
 * I/O; writes reach the database behind the answer, in order. On PostgreSQL each instance keeps its own memory of
 * the shared table (read at start): an entry one instance fetched is not seen by another until it restarts.
 */
export class RelayService {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private readonly inFlight = new Map<string, Promise<RelayResponse>>();
  private readonly touched = new Set<string>();
  private readonly flushTimer: ReturnType<typeof setInterval>;
  /** Upstream requests made, by outcome (for tests, /ready and the benchmark). */
  readonly stats = { requests: 0, hits: 0, revalidations: 0, stale: 0 };
  /** Which paths may be relayed: those that stay under the upstream (built at the first request; none may be configured). */
  private pathInput: ReturnType<typeof relayPathInput> | undefined;
  private readonly clock: Clock;
  /** http-cache-semantics' policy, reading the time from our clock (its `now()`; revalidation keeps the class). */
  private readonly Policy: typeof CachePolicy;

  /** The database writes not yet done, chained so they apply in order; close() waits for them. */
  private writes: Promise<void> = Promise.resolve();

  /** Reads the stored entries (least recently used first) and starts the service. */
  static async open(database: Database, log: Logger, options: RelayOptions): Promise<RelayService> {
    const rows = (await database.all<sql.RelaySqlRow>(sql.allEntries)).map(sql.toRelayRow);
    return new RelayService(database, log, options, rows);
  }

  private constructor(
    private readonly database: Database,
    private readonly log: Logger,
    private readonly options: RelayOptions,
    rows: (typeof relayCache.$inferSelect)[],
  ) {
    const clock = (this.clock = options.clock ?? systemClock);
    this.Policy = class extends CachePolicy {
      now(): number {
        return clock.now();
      }
    };
    // Least recently used first, as the Map's order.
    for (const row of rows) {
      const policy = this.Policy.fromObject(row.policy as CachePolicy.CachePolicyObject);
      const entry: Entry = { ...row, ...parsedBody(row.headers, row.body), policy, size: entrySize(row) };
      this.entries.set(row.url, entry);
      this.bytes += entry.size;
    }
    // The bound may have been lowered (or the estimate raised) since these were stored.
    void this.removeRows(this.evictBeyondBound());
    this.flushTimer = setInterval(() => void this.flushTouched(), FLUSH_INTERVAL_MS);
  }

  /**
   * An upstream URL as clients are told it: relative to RELAY_UPSTREAM, whose address is internal (admins see it in
   * /ready; the log lines carry the whole URL).
   */
  private named(url: string): string {
    const base = this.options.upstream ?? '';
    return url.startsWith(base) ? `RELAY_UPSTREAM/${url.slice(base.length).replace(/^\//, '')}` : 'RELAY_UPSTREAM';
  }

  /** For /ready: whether an upstream is set, and the cache's size and counters. */
  status() {
    return { upstream: this.options.upstream ?? null, entries: this.entries.size, bytes: this.bytes, ...this.stats };
  }

  /** The answer at `path` as JSON, for the GraphQL fields: an answer of another type (below 400) is UNAVAILABLE. */
  async get(path: string): Promise<RelayResponse> {
    const response = await this.getAny(path);
    if (response.notJson && response.status < 400) {
      throw unavailable(
        `the upstream ${this.named(response.url)} answered ${response.status} with a body that is not JSON (${response.headers['content-type'] ?? 'no content type'}); GET /relay/${response.path.replace(/^\/+/, '')} passes it through`,
      );
    }
    return response;
  }

  /** The answer at `path`, whatever its content type (the plain-HTTP relay passes it through). */
  async getAny(path: string): Promise<RelayResponse> {
    if (!this.options.upstream) throw unavailable('the relay is not configured: set RELAY_UPSTREAM to the upstream API’s base URL');
    const { path: url } = parseInput((this.pathInput ??= relayPathInput(this.options.upstream)), { path });
    const request: PolicyRequest = { url, method: 'GET', headers: { accept: 'application/json' } };
    const entry = this.entries.get(url);
    if (entry && entry.policy.satisfiesWithoutRevalidation(request)) {
      this.stats.hits++;
      this.touch(entry);
      return this.answer(path, entry, { cached: true, stale: false, revalidated: false });
    }
    // Concurrent misses for one URL share a single upstream request.
    let pending = this.inFlight.get(url);
    if (!pending) {
      pending = this.fetchUpstream(path, url, request, entry).finally(() => this.inFlight.delete(url));
      this.inFlight.set(url, pending);
    }
    const response = await pending;
    return { ...response, path };
  }

  /** The upstream's restaurant list. */
  async restaurants(freshness?: FreshnessListener): Promise<Record<string, unknown>[]> {
    const response = await this.get('restaurant');
    freshness?.limit(response.freshForMs);
    if (response.status !== 200 || !Array.isArray(response.body)) {
      throw unavailable(`the upstream ${this.named(response.url)} answered ${response.status} without a list of restaurants`);
    }
    return response.body.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null && !Array.isArray(item));
  }

  /** One restaurant with its dishes; null when the upstream says 404. */
  async restaurant(id: string, freshness?: FreshnessListener): Promise<Record<string, unknown> | null> {
    parseInput(restaurantIdInput, { id });
    const response = await this.get(`restaurant/${encodeURIComponent(id)}`);
    freshness?.limit(response.freshForMs);
    if (response.status === 404) return null;
    const body = response.body;
    if (response.status !== 200 || typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw unavailable(`the upstream ${this.named(response.url)} answered ${response.status} without a restaurant object`);
    }
    return body as Record<string, unknown>;
  }

  private async fetchUpstream(path: string, url: string, request: PolicyRequest, entry: Entry | undefined): Promise<RelayResponse> {
    const headers = entry ? (entry.policy.revalidationHeaders(request) as Record<string, string>) : { accept: 'application/json' };
    this.stats.requests++;
    let response: Response;
    let bytes: Uint8Array;
    try {
      response = await this.fetchFollowingRedirects(url, headers, AbortSignal.timeout(this.options.timeoutMs));
      bytes = response.status === 304 ? new Uint8Array() : await readLimited(response, this.options.maxResponseBytes);
    } catch (error) {
      // A redirect out of the upstream (or too many) is the upstream's answer, not an outage: no stale copy hides it.
      if (error instanceof DomainError) throw error;
      const why =
        error instanceof TooLargeError
          ? error.message
          : error instanceof Error && error.name === 'TimeoutError'
            ? `did not answer within ${this.options.timeoutMs} ms`
            : `could not be reached (${(error as Error).message})`;
      return this.staleOr(path, entry, `the upstream ${this.named(url)} ${why}`, 'UPSTREAM_UNREACHABLE');
    }
    const kept = keptHeaders(response.headers);

    if (response.status === 304 && entry) {
      const { policy } = entry.policy.revalidatedPolicy(request, { status: 304, headers: withDefaultTtl(kept, this.options.defaultTtlSeconds) });
      entry.policy = policy;
      entry.fetchedAt = this.nowAsDate();
      entry.headers = { ...entry.headers, ...kept };
      this.stats.revalidations++;
      // A fetch is answered once its entry is stored (a hit never waits on the database).
      await this.store(entry);
      return this.answer(path, entry, { cached: true, stale: false, revalidated: true });
    }
    if (response.status >= 500) return this.staleOr(path, entry, `the upstream ${this.named(url)} answered ${response.status}`);

    const text = utf8(bytes);
    const body = text ?? Buffer.from(bytes).toString('base64');
    const stored = text === null ? { ...kept, [BODY_ENCODING]: 'base64' } : kept;
    const parsed = parsedBody(stored, body);
    // A body that says it is JSON (or says nothing) but is not, is a broken answer; a refusal's (4xx) is still its answer.
    if (parsed.brokenJson && response.status < 400) {
      return this.staleOr(path, entry, `the upstream ${this.named(url)} answered ${response.status} with a body that is not JSON`);
    }
    const policy = new this.Policy(request, { status: response.status, headers: withDefaultTtl(kept, this.options.defaultTtlSeconds) }, { shared: true });
    const fetched = { url, status: response.status, headers: stored, body, json: parsed.json, notJson: parsed.notJson, policy, fetchedAt: this.nowAsDate(), lastUsedAt: this.nowAsDate() };
    const fresh: Entry = { ...fetched, size: entrySize(fetched) };
    const storable = CACHEABLE_STATUSES.has(response.status) && policy.storable() && fresh.size <= this.options.cacheMaxBytes;
    if (storable) await this.store(fresh);
    else if (entry) await this.remove(url);
    return this.answer(path, fresh, { cached: false, stale: false, revalidated: false }, storable);
  }

  /**
   * GETs `url`, following redirects (at most MAX_REDIRECTS) only to URLs under the upstream base: another origin or
   * path would let the upstream point the relay anywhere. Only the final answer comes back; no redirect is kept.
   */
  private async fetchFollowingRedirects(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      const response = await fetch(current, { headers, redirect: 'manual', signal });
      const location = REDIRECT_STATUSES.has(response.status) ? response.headers.get('location') : null;
      if (location === null) return response;
      await response.body?.cancel().catch(() => {});
      if (redirects === MAX_REDIRECTS) {
        throw unavailable(`the upstream ${this.named(url)} redirected more than ${MAX_REDIRECTS} times`, { reason: 'TOO_MANY_REDIRECTS' });
      }
      const next = new URL(location, current);
      if (!isUnderBase(this.options.upstream!, next)) {
        this.log.warn({ url, location: next.href }, 'relay upstream redirected outside RELAY_UPSTREAM');
        throw unavailable(`the upstream ${this.named(url)} redirected outside RELAY_UPSTREAM`, { reason: 'REDIRECT_OUTSIDE_UPSTREAM' });
      }
      current = next.href;
    }
  }

  /** The upstream failed: serve what we have, flagged stale, or say what went wrong (and, when known, why). */
  private staleOr(path: string, entry: Entry | undefined, problem: string, reason?: 'UPSTREAM_UNREACHABLE'): RelayResponse {
    if (!entry) {
      this.log.warn({ path, problem }, 'relay upstream failed, nothing cached');
      throw unavailable(problem, reason ? { reason } : undefined);
    }
    this.stats.stale++;
    this.log.warn({ url: entry.url, problem }, 'relay served a stale entry');
    this.touch(entry);
    return this.answer(path, entry, { cached: true, stale: true, revalidated: false });
  }

  private answer(path: string, entry: Entry, flags: Pick<RelayResponse, 'cached' | 'stale' | 'revalidated'>, stored = true): RelayResponse {
    const freshForMs = flags.stale || !stored ? 0 : entry.policy.timeToLive();
    const { [BODY_ENCODING]: encoding, ...headers } = entry.headers;
    const content = encoding === 'base64' ? new Uint8Array(Buffer.from(entry.body, 'base64')) : entry.body;
    return { path, url: entry.url, status: entry.status, headers, body: entry.json, content, notJson: entry.notJson, fetchedAt: entry.fetchedAt, freshForMs, ...flags };
  }

  /** Admin: forgets every cached answer (this instance's memory and the shared table); returns how many it held. */
  async clear(): Promise<number> {
    const count = this.entries.size;
    this.entries.clear();
    this.touched.clear();
    this.bytes = 0;
    await this.write((tx) => tx.exec(sql.deleteAll));
    this.log.info({ entries: count }, 'relay cache cleared');
    return count;
  }

  private nowAsDate(): Date {
    return new Date(this.clock.now());
  }

  private touch(entry: Entry): void {
    entry.lastUsedAt = this.nowAsDate();
    // Re-inserting moves it to the Map's end: the Map's order is least recently used first.
    this.entries.delete(entry.url);
    this.entries.set(entry.url, entry);
    this.touched.add(entry.url);
  }

  private store(entry: Entry): Promise<void> {
    // A revalidated entry is stored again as itself: its old size goes before its new one (headers may change).
    const previous = this.entries.get(entry.url);
    if (previous) this.bytes -= previous.size;
    entry.size = entrySize(entry);
    entry.lastUsedAt = this.nowAsDate();
    this.entries.delete(entry.url);
    this.entries.set(entry.url, entry);
    this.bytes += entry.size;
    const row = { status: entry.status, headers: entry.headers, body: entry.body, policy: entry.policy.toObject(), fetchedAt: entry.fetchedAt, lastUsedAt: entry.lastUsedAt };
    const evicted = this.evictBeyondBound(entry.url);
    return this.write(async (tx) => {
      await tx.exec(sql.storeEntry, {
        url: entry.url,
        ...row,
        headers: JSON.stringify(row.headers),
        policy: JSON.stringify(row.policy),
        fetchedAt: row.fetchedAt.getTime(),
        lastUsedAt: row.lastUsedAt.getTime(),
      });
      for (const url of evicted) await tx.exec(sql.deleteEntry, { url });
    });
  }

  /** Drops the least recently used entries (never `keep`, the one just stored) until the cache fits its bound; returns their urls. */
  private evictBeyondBound(keep?: string): string[] {
    const evicted: string[] = [];
    for (const [url, old] of this.entries) {
      if (this.bytes <= this.options.cacheMaxBytes || url === keep) break;
      this.entries.delete(url);
      this.bytes -= old.size;
      this.touched.delete(url);
      evicted.push(url);
    }
    return evicted;
  }

  private remove(url: string): Promise<void> {
    const entry = this.entries.get(url);
    if (!entry) return this.writes;
    this.entries.delete(url);
    this.bytes -= entry.size;
    return this.removeRows([url]);
  }

  private removeRows(urls: string[]): Promise<void> {
    if (!urls.length) return this.writes;
    return this.write(async (tx) => {
      for (const url of urls) await tx.exec(sql.deleteEntry, { url });
    });
  }

  /** Hits only move entries in memory; their last use reaches the database every few seconds (and at close). */
  private flushTouched(): Promise<void> {
    if (!this.touched.size) return this.writes;
    const urls = [...this.touched];
    this.touched.clear();
    const uses = urls.flatMap((url) => {
      const entry = this.entries.get(url);
      return entry ? [{ url, lastUsedAt: entry.lastUsedAt }] : [];
    });
    return this.write(async (tx) => {
      for (const { url, lastUsedAt } of uses) await tx.exec(sql.touchEntry, { url, lastUsedAt: lastUsedAt.getTime() });
    });
  }

  /** Queues a write in one transaction after the ones before it; a failure is logged (memory stays the truth). */
  private write(work: (tx: Statements) => Promise<void>): Promise<void> {
    return (this.writes = this.writes
      .then(() => this.database.transaction(work))
      .catch((error) => this.log.error({ err: error }, 'relay cache write failed')));
  }

  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.flushTouched();
  }
}

function keptHeaders(headers: Headers): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const value = headers.get(name);
    if (value !== null) kept[name] = value;
  }
  return kept;
}

/** An answer that says nothing about freshness is fresh for the configured default TTL. */
function withDefaultTtl(headers: Record<string, string>, ttlSeconds: number): Record<string, string> {
  return headers['cache-control'] || headers.expires ? headers : { ...headers, 'cache-control': `max-age=${ttlSeconds}` };
}

class TooLargeError extends Error {}

async function readLimited(response: Response, limit: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  const tooLarge = (bytes: number) => new TooLargeError(`answered ${bytes} bytes, over RELAY_MAX_RESPONSE_BYTES (${limit})`);
  if (declared > limit) throw tooLarge(declared);
  const body = await response.arrayBuffer();
  if (body.byteLength > limit) throw tooLarge(body.byteLength);
  return new Uint8Array(body);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as text, or null when they are not UTF-8 (an image, say). */
function utf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** JSON's media types: application/json and any `+json`; an answer without a content type is tried as JSON too. */
const isJsonType = (contentType: string | undefined) => !contentType || /^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(contentType);

/** A stored body read back: its JSON when it is JSON; whether it is of another type; whether it claims JSON but is not. */
function parsedBody(headers: Record<string, string>, body: string): { json: unknown; notJson: boolean; brokenJson: boolean } {
  if (body === '') return { json: null, notJson: false, brokenJson: false };
  const claimsJson = headers[BODY_ENCODING] === undefined && isJsonType(headers['content-type']);
  if (!claimsJson) return { json: null, notJson: true, brokenJson: false };
  try {
    return { json: JSON.parse(body), notJson: false, brokenJson: false };
  } catch {
    return { json: null, notJson: true, brokenJson: true };
  }
}
