// bench/quotes.ts — quotes through the API against a local quote server with the source's 0.5 s latency.
// 1. quotes(protocol, 8): time for 8 parallel fetches; baseline in the same run: the same 8 fetched one after another.
// 2. quoteStream: N concurrent WebSocket subscribers (default 1,000, one socket each) on one (protocol, interval):
//    ticks delivered to all, upstream fetches made, and delivery delay from receipt at the server to each client.
//   bun bench/quotes.ts [subscribers=1000]
import { createClient } from 'graphql-ws';
import { startQuoteServer } from '../quote-server/server';
import { fetchQuotes } from '../src/quotes/client';
import { startBenchServer } from './server';

const SUBSCRIBERS = Number(process.argv[2] ?? 1000);
const TICKS = 3;
const quoteServer = await startQuoteServer({ port: 0, delayMs: 500 });
const bench = await startBenchServer({ QUOTE_SERVER: `127.0.0.1:${quoteServer.port}` });
const { server, token } = bench;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

try {
  console.log('quotes(protocol, 8) against a 500 ms quote server (best of 3):');
  for (const protocol of ['TCP', 'UDP'] as const) {
    let best = Infinity;
    for (let run = 0; run < 3; run++) {
      const start = performance.now();
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: `{ quotes(protocol: ${protocol}, concurrency: 8) { quotes } }` }),
      });
      const body = (await response.json()) as any;
      if (body.errors || body.data.quotes.quotes.length !== 8) throw new Error(JSON.stringify(body));
      best = Math.min(best, (performance.now() - start) / 1000);
    }
    const start = performance.now();
    for (let i = 0; i < 8; i++) await fetchQuotes({ host: '127.0.0.1', port: quoteServer.port }, protocol, 1, { timeoutMs: 2000, udpRetries: 2 });
    const sequential = (performance.now() - start) / 1000;
    console.log(`  ${protocol}: ${(best * 1000).toFixed(0)} ms = ${(best / 0.5).toFixed(2)}× the latency; baseline one after another ${(sequential * 1000).toFixed(0)} ms; ×${(sequential / best).toFixed(1)} faster`);
  }

  console.log(`\nquoteStream(TCP, 1000 ms): ${SUBSCRIBERS} WebSocket subscribers, one socket each, ${TICKS} ticks:`);
  const fetchesBefore = server.app.quotes.streamStats().fetches;
  const delays: number[] = [];
  let complete = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const clients = Array.from({ length: SUBSCRIBERS }, () =>
    createClient({ url: server.url.replace(/^http/, 'ws'), connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0, lazy: true }),
  );
  const connectStart = performance.now();
  const unsubscribers = clients.map((client) => {
    let received = 0;
    return client.subscribe<{ quoteStream: { receivedAt: string } }>(
      { query: 'subscription { quoteStream(protocol: TCP, intervalMs: 1000) { raw receivedAt } }' },
      {
        next: ({ data }) => {
          delays.push(Date.now() - Date.parse(data!.quoteStream.receivedAt));
          if (++received === TICKS && ++complete === SUBSCRIBERS) resolveAll();
        },
        error: (error) => console.error('subscription error', error),
        complete: () => {},
      },
    );
  });
  // WebSocket subscribers with the same query join one group (src/http/fan-out.ts): one subscriber of the quote stream.
  const subscribed = () => Math.max(server.app.quotes.streamStats().subscribers, server.fanOut.stats().members);
  while (subscribed() < SUBSCRIBERS) await Bun.sleep(20);
  console.log(`  all subscribed in ${(performance.now() - connectStart).toFixed(0)} ms`);
  await Promise.race([all, Bun.sleep(20_000)]);
  const fetches = server.app.quotes.streamStats().fetches - fetchesBefore;
  delays.sort((a, b) => a - b);
  console.log(`  ${complete}/${SUBSCRIBERS} subscribers got ${TICKS} quotes; ${delays.length} deliveries from ${fetches} upstream fetches`);
  console.log(`  delivery delay after the server received a quote: p50 ${percentile(delays, 50)} ms, p99 ${percentile(delays, 99)} ms, max ${delays.at(-1)} ms`);
  for (const unsubscribe of unsubscribers) unsubscribe();
  await Promise.all(clients.map((client) => client.dispose()));
  await Bun.sleep(100);
  console.log(`  after unsubscribing: ${JSON.stringify(server.app.quotes.streamStats())}`);
} finally {
  await bench.stop();
  quoteServer.stop();
}
