// Its own module so that the context (which carries one) and the response cache (which reads it) need not import
// each other.

/** How long a response may be reused, tightened by resolvers whose data has its own freshness (the relay's). */
export class ResponseFreshness {
  maxMs = Number.POSITIVE_INFINITY;
  limit(ms: number): void {
    this.maxMs = Math.min(this.maxMs, Math.max(0, ms));
  }
}
