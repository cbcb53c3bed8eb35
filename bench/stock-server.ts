// bench/stock-server.ts — the baseline of bench/public.ts: a stock graphql-yoga + graphql-ws server in the shape of
// Yoga's Bun WebSocket example, with the package versions jobgraph uses. No auth, no limits, no database: what a
// plain Yoga gives. `tick` emits the shape of jobgraph's quoteStream from one shared timer per interval.
//   bun bench/stock-server.ts [port]   (or PORT=…; prints `listening <port>`)
import { makeHandler } from 'graphql-ws/use/bun';
import { createPubSub, createSchema, createYoga } from 'graphql-yoga';

const ME = { id: '1', username: 'admin' };
const TEXT = 'Simplicity is prerequisite for reliability.';

const pubSub = createPubSub<Record<string, [tick: unknown]>>();
const timers = new Map<number, ReturnType<typeof setInterval>>();
let index = 0;
/** One timer per interval for the whole server, as a stock app would publish from a single source. */
function ensureTimer(intervalMs: number) {
  if (timers.has(intervalMs)) return;
  timers.set(
    intervalMs,
    setInterval(() => {
      const at = index++ % 1000;
      pubSub.publish(`tick:${intervalMs}`, {
        protocol: 'TCP',
        index: at,
        text: TEXT,
        raw: `T${String(at).padStart(3, '0')}: ${TEXT}`,
        receivedAt: new Date().toISOString(),
      });
    }, intervalMs),
  );
}

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type User {
      id: ID!
      username: String!
    }
    type Tick {
      protocol: String!
      index: Int!
      text: String!
      raw: String!
      receivedAt: String!
    }
    type Query {
      hello: String!
      me: User
    }
    type Subscription {
      tick(intervalMs: Int!): Tick!
    }
  `,
  resolvers: {
    Query: { hello: () => 'world', me: () => ME },
    Subscription: {
      tick: {
        subscribe: (_root: unknown, { intervalMs }: { intervalMs: number }) => {
          ensureTimer(intervalMs);
          return pubSub.subscribe(`tick:${intervalMs}`);
        },
        resolve: (tick: unknown) => tick,
      },
    },
  },
});

const yoga = createYoga({ schema, logging: false, graphiql: { subscriptionsProtocol: 'WS' } });

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(process.argv[2] ?? process.env.PORT ?? 0),
  fetch: (request, server) => {
    if (server.upgrade(request)) return new Response();
    return yoga.fetch(request, server);
  },
  websocket: makeHandler({
    execute: (args) => (args.rootValue as any).execute(args),
    subscribe: (args) => (args.rootValue as any).subscribe(args),
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.socket,
        socket: ctx.extra.socket,
        params,
      });
      const args = {
        schema,
        operationName: params.operationName,
        document: parse(params.query),
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
      const errors = validate(args.schema, args.document);
      if (errors.length) return errors;
      return args;
    },
  }),
});
console.log(`listening ${server.port}`);
