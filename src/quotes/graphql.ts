import { builder } from '../graphql/builder';
import { fanOutExtension, sameForTheRole } from '../graphql/fan-out';
import { type Quote, QUOTE_PROTOCOLS } from './client';
import { INTERVAL_STEP_MS, MAX_STREAMS_PER_PROTOCOL } from './service';

const QuoteProtocolEnum = builder.enumType('QuoteProtocol', { values: QUOTE_PROTOCOLS });

const QuoteType = builder.simpleObject('Quote', {
  fields: (t) => ({
    protocol: t.field({ type: QuoteProtocolEnum }),
    index: t.int({ description: "The quote's line in the server's table (0-based)." }),
    text: t.string(),
    raw: t.string({ description: 'The message as received, e.g. `T007: …`.' }),
    receivedAt: t.field({ type: 'DateTime' }),
  }),
});

const QuoteBatchType = builder.simpleObject('QuoteBatch', {
  fields: (t) => ({
    protocol: t.field({ type: QuoteProtocolEnum }),
    concurrency: t.int(),
    quotes: t.stringList({ description: 'The raw messages, in the order they were requested.' }),
    items: t.field({ type: [QuoteType], description: 'The same quotes, parsed.' }),
    seconds: t.float({ description: 'Time taken; the requests run in parallel.' }),
  }),
});

builder.queryFields((t) => ({
  quotes: t.field({
    type: QuoteBatchType,
    authScopes: { loggedIn: true },
    description: 'Fetches `concurrency` (1..8) quotes from the quote server in parallel.',
    args: { protocol: t.arg({ type: QuoteProtocolEnum, required: true }), concurrency: t.arg.int({ defaultValue: 1 }) },
    resolve: (_root, { protocol, concurrency }, ctx) => ctx.quotes.fetch(protocol, concurrency),
  }),
}));

builder.subscriptionFields((t) => ({
  quoteStream: t.field({
    type: QuoteType,
    authScopes: { loggedIn: true },
    description:
      `A quote every \`intervalMs\` (100..60000, rounded up to a multiple of ${INTERVAL_STEP_MS}). One fetch per tick is shared by all subscribers with the same arguments; with ${MAX_STREAMS_PER_PROTOCOL} intervals open per protocol, a new one joins the nearest.`,
    args: { protocol: t.arg({ type: QuoteProtocolEnum, defaultValue: 'TCP' }), intervalMs: t.arg.int({ defaultValue: 1000 }) },
    subscribe: (_root, { protocol, intervalMs }, ctx) => ctx.quotes.stream(protocol, intervalMs),
    resolve: (quote: Quote) => quote,
    extensions: fanOutExtension({ audience: sameForTheRole }),
  }),
}));
