import { Repeater } from 'graphql-yoga';
import type { Logger } from 'pino';
import { z } from 'zod';
import { unavailable } from '../errors';
import { MAX_UNREAD_EVENTS } from '../events';
import { integerIn, parseInput } from '../input';
import { fetchQuotes, formatAddress, type Quote, QUOTE_PROTOCOLS, type QuoteAddress, type QuoteClientOptions, type QuoteProtocol } from './client';

export interface QuoteBatch {
  protocol: QuoteProtocol;
  concurrency: number;
  /** The raw messages, e.g. `T007: …`. */
  quotes: string[];
  items: Quote[];
  seconds: number;
}

export const MIN_INTERVAL_MS = 100;
export const MAX_INTERVAL_MS = 60_000;
const protocol = z.enum(QUOTE_PROTOCOLS, { error: `invalid field protocol: one of ${QUOTE_PROTOCOLS.join(', ')}` });
/** The source system's validation and messages (shared/specs/pi-and-quotes.md). */
export const fetchQuotesInput = z.object({
  protocol,
  // Absent means 1; an explicit null is refused, as the source refused it.
  concurrency: integerIn(1, 8, 'invalid field concurrency')
    .optional()
    .transform((count) => count ?? 1),
});
export const quoteStreamInput = z.object({
  protocol: protocol.nullish().transform((name) => name ?? 'TCP'),
  intervalMs: integerIn(MIN_INTERVAL_MS, MAX_INTERVAL_MS, `invalid field intervalMs: an integer from ${MIN_INTERVAL_MS} to ${MAX_INTERVAL_MS}`)
    .nullish()
    .transform((ms) => ms ?? 1000),
});

/** Intervals are rounded up to a multiple of this, so near-equal requests share one upstream poller. */
export const INTERVAL_STEP_MS = 100;
/**
 * Upstream pollers per protocol (each one fetches a quote every tick): with this many open, a stream with a new
 * interval joins the open one whose interval is nearest, so clients cannot multiply the outbound fetches.
 */
export const MAX_STREAMS_PER_PROTOCOL = 8;

/** A stream whose fetches take longer than its interval skips ticks rather than pile up requests. */
const MAX_FETCHES_IN_FLIGHT = 2;

/** One upstream fetch per tick, shared by every subscriber with the same (protocol, interval). */
interface Stream {
  protocol: QuoteProtocol;
  interval: number;
  subscribers: Set<(quote: Quote) => void>;
  timer: ReturnType<typeof setInterval>;
  inFlight: number;
  fetches: number;
}

export class QuotesService {
  private readonly streams = new Map<string, Stream>();

  constructor(
    /** Where the quote server is now (the embedded one can restart); null when it is not running. */
    private readonly address: () => QuoteAddress | null,
    private readonly options: QuoteClientOptions,
    private readonly log: Logger,
    /** Starts the quote server jobgraph runs itself, when nothing has asked for a quote yet. */
    private readonly startServer?: () => Promise<void>,
  ) {}

  private async requireAddress(): Promise<QuoteAddress> {
    if (!this.address()) await this.startServer?.();
    const address = this.address();
    if (!address) throw unavailable('the quote server is not running');
    return address;
  }

  /** `concurrency` quotes fetched in parallel; validation and messages as the source system's. */
  async fetch(protocolInput: QuoteProtocol, concurrencyInput: unknown): Promise<QuoteBatch> {
    const { protocol, concurrency } = parseInput(fetchQuotesInput, { protocol: protocolInput, concurrency: concurrencyInput });
    const started = performance.now();
    const items = await fetchQuotes(await this.requireAddress(), protocol, concurrency, this.options);
    return { protocol, concurrency, quotes: items.map((item) => item.raw), items, seconds: (performance.now() - started) / 1000 };
  }

  /**
   * A quote every `intervalMs` (rounded up to INTERVAL_STEP_MS; the nearest open interval once the protocol has
   * MAX_STREAMS_PER_PROTOCOL pollers), until the consumer stops listening.
   */
  async stream(protocolInput: QuoteProtocol | null | undefined, intervalMsInput: number | null | undefined): Promise<AsyncIterable<Quote>> {
    const { protocol, intervalMs } = parseInput(quoteStreamInput, { protocol: protocolInput, intervalMs: intervalMsInput });
    await this.requireAddress();
    const interval = Math.ceil(intervalMs / INTERVAL_STEP_MS) * INTERVAL_STEP_MS;
    return new Repeater<Quote>(async (push, stop) => {
      // A reader that stops pulling (a paused SSE client) is ended, not buffered without bound (see events.ts).
      let unread = 0;
      const listener = (quote: Quote) => {
        if (unread >= MAX_UNREAD_EVENTS) return void stop(unavailable(`this stream fell more than ${MAX_UNREAD_EVENTS} quotes behind its reader and was ended; subscribe again`));
        unread++;
        push(quote).then(() => unread--, () => {});
      };
      // Chosen when the subscriber starts listening: the streams open then decide whether a new poller may start.
      const stream = this.streamFor(protocol, interval);
      stream.subscribers.add(listener);
      await stop;
      stream.subscribers.delete(listener);
      if (stream.subscribers.size === 0) {
        clearInterval(stream.timer);
        this.streams.delete(streamKey(stream.protocol, stream.interval));
      }
    });
  }

  /** The open stream for (protocol, interval); else a new one while the protocol has room; else the nearest open. */
  private streamFor(protocol: QuoteProtocol, interval: number): Stream {
    const exact = this.streams.get(streamKey(protocol, interval));
    if (exact) return exact;
    const open = [...this.streams.values()].filter((stream) => stream.protocol === protocol);
    if (open.length < MAX_STREAMS_PER_PROTOCOL) return this.openStream(protocol, interval);
    const distance = (stream: Stream) => Math.abs(stream.interval - interval);
    return open.reduce((nearest, stream) => (distance(stream) < distance(nearest) ? stream : nearest));
  }

  private openStream(protocol: QuoteProtocol, interval: number): Stream {
    const stream: Stream = { protocol, interval, subscribers: new Set(), inFlight: 0, fetches: 0, timer: setInterval(() => tick(), interval) };
    const tick = () => {
      const address = this.address();
      if (!address || stream.inFlight >= MAX_FETCHES_IN_FLIGHT) return;
      stream.inFlight++;
      stream.fetches++;
      fetchQuotes(address, protocol, 1, this.options).then(
        ([quote]) => {
          stream.inFlight--;
          for (const subscriber of stream.subscribers) subscriber(quote!);
        },
        (error: Error) => {
          stream.inFlight--;
          // A missed tick is not the end of a stream: say so in the log and try again next tick.
          this.log.warn({ address: formatAddress(address), protocol, err: error.message }, 'quote stream fetch failed');
        },
      );
    };
    this.streams.set(streamKey(protocol, interval), stream);
    return stream;
  }

  /** Open streams and their subscribers (for /ready, tests and the benchmark). */
  streamStats(): { streams: number; subscribers: number; fetches: number } {
    let subscribers = 0;
    let fetches = 0;
    for (const stream of this.streams.values()) {
      subscribers += stream.subscribers.size;
      fetches += stream.fetches;
    }
    return { streams: this.streams.size, subscribers, fetches };
  }

  stop(): void {
    for (const stream of this.streams.values()) clearInterval(stream.timer);
  }
}

const streamKey = (protocol: QuoteProtocol, interval: number) => `${protocol}:${interval}`;
