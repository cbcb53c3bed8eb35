// Every cache on the request path that is keyed by a document's text (Yoga's parse cache and its cache of parse
// errors, the fast path's known documents, the response cache's list of never-cached documents) is bounded by bytes,
// not only by count: a thousand 1 MB documents sent by anyone would otherwise keep a gigabyte alive. A document above
// the per-entry size is parsed and validated for its own request and never remembered; the least recently used
// entries leave first once a cache's bytes are spent. Built on lru-cache (Yoga's own LRU), which does both.
import { LRUCache } from 'lru-cache';

export interface DocumentCacheLimits {
  /** DOCUMENT_CACHE_BYTES: the document text each cache may hold. */
  documentCacheBytes: number;
  /** MAX_CACHED_DOCUMENT_BYTES: a longer document is never cached. */
  maxCachedDocumentBytes: number;
}

/** Entries per cache, whatever their size (Yoga's default). */
export const MAX_CACHED_DOCUMENTS = 1024;
/** As Yoga's parse cache: an entry unused for an hour leaves. */
const DOCUMENT_TTL_MS = 60 * 60_000;

export type DocumentCache<V extends {}> = LRUCache<string, V>;

/** The caches one server keeps, by name, so their sizes can be read (`jobgraph_document_cache_bytes`). */
export class DocumentCaches {
  private readonly caches = new Map<string, { readonly size: number; readonly calculatedSize: number }>();
  constructor(private readonly limits: DocumentCacheLimits) {}

  /** A new cache keyed by document text, within the limits; `name` says which one it is in the metrics. */
  create<V extends {}>(name: string): DocumentCache<V> {
    const cache = new LRUCache<string, V>({
      max: MAX_CACHED_DOCUMENTS,
      ttl: DOCUMENT_TTL_MS,
      maxSize: this.limits.documentCacheBytes,
      // lru-cache does not store an entry larger than this.
      maxEntrySize: this.limits.maxCachedDocumentBytes,
      // The text's UTF-8 bytes, as MAX_BODY_BYTES counts them (the parsed document grows with it).
      sizeCalculation: (_value, key) => Math.max(1, Buffer.byteLength(key)),
    });
    this.caches.set(name, cache);
    return cache;
  }

  /** Each cache's entries and the bytes of text they hold. */
  sizes(): { name: string; entries: number; bytes: number }[] {
    return [...this.caches].map(([name, cache]) => ({ name, entries: cache.size, bytes: cache.calculatedSize }));
  }
}
