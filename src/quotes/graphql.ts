import { builder, describedValues } from '../graphql/builder';
import { fanOutExtension, sameForTheRole } from '../graphql/fan-out';
import { type Quote, QUOTE_PROTOCOLS } from './client';
import { INTERVAL_STEP_MS, MAX_STREAMS_PER_PROTOCOL } from './service';

const QuoteProtocolEnum = builder.enumType('QuoteProtocol', {
  description: 'How jobgraph asks the quote server for a quote.',
  values: describedValues(QUOTE_PROTOCOLS, {
    TCP: 'One TCP connection per quote: reliable, a round trip more.',
    UDP: 'One datagram per quote, sent again (QUOTE_UDP_RETRIES) when no answer comes within QUOTE_TIMEOUT_MS.',
  }),
});

const QuoteType = builder.simpleObject('Quote', {
  description: 'One quote from the quote server.',
  fields: (t) => ({
    protocol: t.field({ type: QuoteProtocolEnum, description: 'How it was fetched.' }),
    index: t.int({ description: "The quote's line in the server's table (0-based)." }),
    text: t.string({ description: 'The quote itself.' }),
    raw: t.string({ description: 'The message as received, e.g. `T007: …`.' }),
    receivedAt: t.field({ type: 'DateTime', description: 'When jobgraph received it.' }),
  }),
});

const QuoteBatchType = builder.simpleObject('QuoteBatch', {
  description: 'Quotes fetched at once, in parallel, and how long that took.',
  fields: (t) => ({
    protocol: t.field({ type: QuoteProtocolEnum, description: 'How they were fetched.' }),
    concurrency: t.int({ description: 'How many were requested at once.' }),
    quotes: t.stringList({ description: 'The raw messages, in the order they were requested.' }),
    items: t.field({ type: [QuoteType], description: 'The same quotes, parsed.' }),
    seconds: t.float({ description: 'Time taken; the requests run in parallel.' }),
  }),
});

builder.queryFields((t) => ({
  quotes: t.field({
    type: QuoteBatchType,
    authScopes: { reader: 'quotes' },
    description: 'Fetches `concurrency` (1..8) quotes from the quote server in parallel.',
    args: {
      protocol: t.arg({ type: QuoteProtocolEnum, required: true, description: 'TCP or UDP.' }),
      concurrency: t.arg.int({ defaultValue: 1, description: 'Quotes requested at once: 1..8.' }),
    },
    resolve: (_root, { protocol, concurrency }, ctx) => ctx.quotes.fetch(protocol, concurrency),
  }),
}));

builder.subscriptionFields((t) => ({
  quoteStream: t.field({
    type: QuoteType,
    authScopes: { reader: 'quotes' },
    description:
      `A quote every \`intervalMs\` (100..60000, rounded up to a multiple of ${INTERVAL_STEP_MS}). One fetch per tick is shared by all subscribers with the same arguments; with ${MAX_STREAMS_PER_PROTOCOL} intervals open per protocol, a new one joins the nearest.`,
    args: {
      protocol: t.arg({ type: QuoteProtocolEnum, defaultValue: 'TCP', description: 'TCP or UDP.' }),
      intervalMs: t.arg.int({ defaultValue: 1000, description: `Milliseconds between quotes: 100..60000, rounded up to a multiple of ${INTERVAL_STEP_MS}.` }),
    },
    subscribe: (_root, { protocol, intervalMs }, ctx) => ctx.quotes.stream(protocol, intervalMs),
    resolve: (quote: Quote) => quote,
    extensions: fanOutExtension({ audience: sameForTheRole }),
  }),
}));
