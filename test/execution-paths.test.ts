// One operation can take five ways through the server, and not every way runs every Yoga/envelop hook:
//   yoga        an HTTP request Yoga handles whole (src/http/graphql-handler.ts)
//   fastPath    a JSON POST of a known-valid document (src/http/graphql-fast-path.ts): Yoga's envelop, not its HTTP layer
//   cacheHit    a cached answer served before Yoga (src/graphql/response-cache.ts, serveFromCache)
//   graphqlWs   a WebSocket operation, one execution per subscriber (src/http/websocket.ts)
//   fanOutJoin  a WebSocket subscriber joining a group that already listens (src/http/fan-out.ts), and each event the
//               group executes once for all its members
// This test watches each way with a probe plugin on a real server, pins the hook families each runs, and fails when
// one of our plugins (graphqlPlugins) has a hook that a way skips, unless SKIPS below says why that is safe there.
// A new plugin, or a new hook on one, must either run on every way or be listed here with its reason.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Plugin } from 'graphql-yoga';
import { createResponseCache } from '../src/graphql/response-cache';
import { graphqlPlugins } from '../src/http/graphql-handler';
import { readSseEvents, startTestServer, subscribe, type TestServer } from './helpers/server';

/** The hooks that run per operation. (onPluginInit, onYogaInit and onSchemaChange run once, at start, on every way.) */
const FAMILIES = [
  'onRequest',
  'onRequestParse',
  'onParams',
  'onEnveloped',
  'onParse',
  'onValidate',
  'onContextBuilding',
  'onExecute',
  'onSubscribe',
  'onExecutionResult',
  'onResultProcess',
  'onResponse',
] as const;
type Family = (typeof FAMILIES)[number];
const ONCE_AT_START = new Set(['onPluginInit', 'onYogaInit', 'onSchemaChange']);

type Path = 'yoga' | 'fastPath' | 'cacheHit' | 'graphqlWs' | 'fanOutJoin' | 'fanOutEvent';
type PluginName = keyof ReturnType<typeof graphqlPlugins>;

/** What each way runs, as observed (a change here is a change in what every plugin can rely on). */
const RUNS: Record<Path, Family[]> = {
  yoga: ['onRequest', 'onRequestParse', 'onParams', 'onEnveloped', 'onParse', 'onValidate', 'onContextBuilding', 'onExecute', 'onSubscribe', 'onExecutionResult', 'onResultProcess', 'onResponse'],
  fastPath: ['onEnveloped', 'onContextBuilding', 'onExecute'],
  cacheHit: [],
  graphqlWs: ['onEnveloped', 'onParse', 'onValidate', 'onContextBuilding', 'onExecute', 'onSubscribe'],
  fanOutJoin: ['onEnveloped', 'onParse', 'onValidate', 'onContextBuilding'],
  fanOutEvent: [],
};

/** A family a way cannot run, for want of that kind of operation (the fast path and the cache take no subscription). */
const NOT_APPLICABLE: Partial<Record<Path, Family[]>> = {
  fastPath: ['onSubscribe'],
  cacheHit: ['onSubscribe'],
  fanOutJoin: ['onExecute'],
  fanOutEvent: ['onExecute'],
};

const HTTP_LAYER = 'Yoga reads the request itself only on its own way; the others get the operation already read';
const FIRST_SIGHT =
  "the fast path parses and validates a document through the same envelop the first time it sees it (and again for each request when its cost reads the variables); a cache hit's answer came from a run that passed them";
const GROUP_EVENT = 'a group executes an event once for all its members, from the first member’s checked arguments; nothing is parsed or validated again';

/** Each hook of ours that some way skips, the ways, and why that is safe there. */
const SKIPS: Record<PluginName, Partial<Record<Family, { paths: Path[]; why: string }>>> = {
  tracedPhases: {},
  tracedExecution: {},
  persistedQueries: {
    onParams: {
      paths: ['fastPath', 'cacheHit', 'graphqlWs', 'fanOutJoin', 'fanOutEvent'],
      why: 'APQ is an HTTP protocol: routes.ts sends every request naming extensions.persistedQuery to Yoga, before the cache and the fast path; graphql-ws clients send whole documents',
    },
  },
  sseSingleConnection: {
    onRequest: {
      paths: ['fastPath', 'cacheHit', 'graphqlWs', 'fanOutJoin', 'fanOutEvent'],
      why: 'only graphql-sse’s single-connection requests (a reservation PUT, a stream token) are for it, and routes.ts sends those to Yoga; no other way carries one',
    },
  },
  trustedDocuments: {
    onParams: {
      paths: ['fastPath', 'cacheHit', 'graphqlWs', 'fanOutJoin', 'fanOutEvent'],
      why: 'PERSISTED_ONLY: routes.ts lets only a trusted document (or an admin’s) take the cache or the fast path, and websocket.ts asks the same gate (trustedDocumentRefusal) before it parses an operation; a fan-out member joined through that check',
    },
  },
  nonEmptyBatches: {
    onRequestParse: { paths: ['fastPath', 'cacheHit', 'graphqlWs', 'fanOutJoin', 'fanOutEvent'], why: `a batch is a JSON array, which routes.ts sends to Yoga; ${HTTP_LAYER}` },
  },
  deferStream: {
    onValidate: {
      paths: ['fastPath', 'cacheHit', 'fanOutEvent'],
      why: `routes.ts sends documents naming @defer or @stream to Yoga, never to the fast path or the cache; ${GROUP_EVENT}`,
    },
  },
  phaseMetrics: {
    onParse: { paths: ['fastPath', 'cacheHit', 'fanOutEvent'], why: `parse and validate are timed at a document's first sight: ${FIRST_SIGHT}; ${GROUP_EVENT}` },
    onValidate: { paths: ['fastPath', 'cacheHit', 'fanOutEvent'], why: `parse and validate are timed at a document's first sight: ${FIRST_SIGHT}; ${GROUP_EVENT}` },
    onExecute: { paths: ['cacheHit'], why: 'a hit executes nothing (metrics.cachedAnswer counts it)' },
  },
  csrfPrevention: {
    onRequestParse: {
      paths: ['fastPath', 'cacheHit', 'graphqlWs', 'fanOutJoin', 'fanOutEvent'],
      why: 'the fast path takes only an exactly application/json POST (preflighted by a browser); a cache hit needs an Authorization header, which no cross-site simple request carries; a WebSocket operation carries its token in the socket’s own messages, never an ambient credential',
    },
  },
  queryLimits: {
    onParams: {
      paths: ['fastPath', 'cacheHit', 'graphqlWs', 'fanOutJoin', 'fanOutEvent'],
      why: 'routes.ts checks a parsed JSON body with operationParamsProblem before the cache and the fast path; websocket.ts checks every subscribe message with it',
    },
    onParse: { paths: ['fastPath', 'cacheHit', 'fanOutEvent'], why: `${FIRST_SIGHT}; ${GROUP_EVENT}` },
    onValidate: { paths: ['fastPath', 'cacheHit', 'fanOutEvent'], why: `${FIRST_SIGHT}; ${GROUP_EVENT}` },
  },
  subscriptionErrorStatus: {
    onSubscribe: {
      paths: ['fanOutJoin', 'fanOutEvent'],
      why: 'it gives a refused subscription its HTTP status; a WebSocket has none, and a refused subscriber never joins a group (websocket.ts subscribeGrouped hands it to enveloped.subscribe)',
    },
  },
  operationLog: {
    onValidate: { paths: ['fastPath', 'cacheHit', 'fanOutEvent'], why: `it logs rejected documents: ${FIRST_SIGHT}; ${GROUP_EVENT}` },
    onExecute: {
      paths: ['cacheHit'],
      why: 'a hit executes nothing: routes.ts counts it (metrics.cachedAnswer) and the access log writes its line',
    },
    onSubscribe: {
      paths: ['fanOutJoin', 'fanOutEvent'],
      why: 'websocket.ts logs and counts each grouped subscriber’s start itself (logSubscriptionStarted) and its end (onComplete)',
    },
  },
  responseCache: {
    onExecute: {
      paths: ['cacheHit'],
      why: 'it fills the cache from executions; a hit is the cache answering (subscriptions and WebSocket operations are never cached)',
    },
  },
  categoryMeans: {
    onExecute: { paths: ['cacheHit'], why: 'a hit serves an answer an earlier execution (or this plugin) wrote' },
  },
  compiledAnalytics: {
    onExecute: {
      paths: ['cacheHit'],
      why: 'a hit serves an answer an earlier execution computed (and a query categoryMeans answers stops before it: it needs no compile)',
    },
  },
  preParsedBody: {
    onRequestParse: { paths: ['fastPath', 'cacheHit', 'graphqlWs', 'fanOutJoin', 'fanOutEvent'], why: HTTP_LAYER },
  },
  requestParseErrors: {
    onRequestParse: { paths: ['fastPath', 'cacheHit', 'graphqlWs', 'fanOutJoin', 'fanOutEvent'], why: HTTP_LAYER },
  },
};

/** Each (plugin, hook, way) where one of `plugins`' hooks does not run, and no entry of `skips` says why. */
function unexplainedSkips(plugins: Record<string, object>, runs: Record<Path, Family[]>, skips: typeof SKIPS): string[] {
  const problems: string[] = [];
  for (const [name, plugin] of Object.entries(plugins)) {
    for (const hook of hooksOf(plugin)) {
      for (const path of Object.keys(runs) as Path[]) {
        if (runs[path].includes(hook as Family) || NOT_APPLICABLE[path]?.includes(hook as Family)) continue;
        if (!skips[name as PluginName]?.[hook as Family]?.paths.includes(path)) problems.push(`${name}.${hook} does not run on ${path}`);
      }
    }
  }
  return problems;
}

/** Records the hook families that fire; each is a no-op otherwise. */
function probe() {
  const fired = new Set<string>();
  let plugins: readonly unknown[] = [];
  const plugin: Plugin = {
    onPluginInit: ({ plugins: all }) => {
      plugins = all;
    },
    onRequest: () => void fired.add('onRequest'),
    onRequestParse: () => void fired.add('onRequestParse'),
    onParams: () => void fired.add('onParams'),
    onEnveloped: () => void fired.add('onEnveloped'),
    onParse: () => void fired.add('onParse'),
    onValidate: () => void fired.add('onValidate'),
    onContextBuilding: () => void fired.add('onContextBuilding'),
    onExecute: () => void fired.add('onExecute'),
    onSubscribe: () => void fired.add('onSubscribe'),
    onExecutionResult: () => void fired.add('onExecutionResult'),
    onResultProcess: () => void fired.add('onResultProcess'),
    onResponse: () => void fired.add('onResponse'),
  };
  return {
    plugin,
    plugins: () => plugins,
    /** The families fired by `run`, in FAMILIES order. */
    async during(run: () => Promise<unknown>): Promise<Family[]> {
      fired.clear();
      await run();
      return FAMILIES.filter((family) => fired.has(family));
    },
  };
}

const hooksOf = (plugin: object) => Object.keys(plugin).filter((key) => key.startsWith('on') && !ONCE_AT_START.has(key));

let server: TestServer;
const watch = probe();
let admin: string;
beforeAll(async () => {
  server = await startTestServer({ QUOTE_DELAY_MS: '5' }, { probes: [watch.plugin] });
  admin = await server.adminToken();
});
afterAll(() => server.stop());

async function post(query: string, accept: string) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${admin}` },
    body: JSON.stringify({ query }),
  });
  const body = (await response.json()) as { data?: unknown; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body;
}

describe('the execution paths', () => {
  const observed = {} as Record<Path, Family[]>;

  beforeAll(async () => {
    // Through Yoga: an Accept list is not the fast path's.
    const yogaQuery = await watch.during(() => post('{ me { id } }', 'application/json, text/plain'));
    // …and a subscription over SSE, which Yoga runs too.
    const yogaSubscription = await watch.during(async () => {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin}` },
        body: JSON.stringify({ query: 'subscription { workerPoolUpdates(intervalMs: 250) { size } }' }),
      });
      await readSseEvents(response, 1);
    });
    observed.yoga = FAMILIES.filter((family) => yogaQuery.includes(family) || yogaSubscription.includes(family));
    // The fast path, on a document it has seen (the first sight parses and validates through the same envelop).
    await post('{ me { username } }', '*/*');
    observed.fastPath = await watch.during(() => post('{ me { username } }', '*/*'));
    // A cached analytics answer: the first ask fills the cache, the second is served from it.
    const cached = '{ analytics { states } }';
    await post(cached, '*/*');
    observed.cacheHit = await watch.during(() => post(cached, '*/*'));
    // graphql-ws, a field without a fan-out hint: its own execution per subscriber.
    const client = server.wsClient(admin);
    const wsSubscription = await watch.during(async () => {
      const pool = subscribe(client, 'subscription { workerPoolUpdates(intervalMs: 250) { size } }');
      await pool.waitFor(1);
      pool.unsubscribe();
    });
    const wsQuery = await watch.during(() => subscribe(client, '{ me { id } }').waitFor(1));
    observed.graphqlWs = FAMILIES.filter((family) => wsSubscription.includes(family) || wsQuery.includes(family));
    // A fan-out group: the first subscriber opens it; a second joins it; then the group executes an event for both.
    const first = subscribe(client, 'subscription { quoteStream(intervalMs: 100) { index } }');
    await first.waitFor(1);
    let second!: ReturnType<typeof subscribe>;
    observed.fanOutJoin = await watch.during(async () => {
      const joined = new Promise<void>((resolve) => {
        const stop = server.running.fanOut.onJoin(() => (stop(), resolve()));
      });
      second = subscribe(client, 'subscription { quoteStream(intervalMs: 100) { index } }');
      await joined;
    });
    observed.fanOutEvent = await watch.during(async () => {
      const seen = second.events.length;
      await second.waitFor(seen + 1);
    });
    first.unsubscribe();
    second.unsubscribe();
    await client.dispose();
  });

  test('each way runs the hook families pinned for it', () => {
    expect(observed).toEqual(RUNS);
  });

  test('the probe sits right after our plugins, as graphqlPlugins lists them', () => {
    const all = watch.plugins();
    const ours = Object.values(plugins());
    const at = all.indexOf(watch.plugin);
    expect(at).toBeGreaterThan(ours.length);
    expect(all.slice(at - ours.length, at).map((plugin) => hooksOf(plugin as object))).toEqual(ours.map(hooksOf));
  });

  test('every hook of ours that a way skips is listed with why that is safe; nothing listed is stale', () => {
    expect(unexplainedSkips(plugins(), RUNS, SKIPS)).toEqual([]);
    const stale: string[] = [];
    for (const [name, hooks] of Object.entries(SKIPS)) {
      for (const [hook, { paths }] of Object.entries(hooks)) {
        const plugin = plugins()[name as PluginName] as object;
        for (const path of paths) if (!hooksOf(plugin).includes(hook) || RUNS[path].includes(hook as Family)) stale.push(`${name}.${hook} on ${path}`);
      }
    }
    expect(stale).toEqual([]);
  });

  test('a new plugin with a hook some way skips fails until it is explained', () => {
    const withNew = { ...plugins(), cacheControl: { onResultProcess() {}, onExecute() {} } };
    expect(unexplainedSkips(withNew, RUNS, SKIPS)).toEqual([
      'cacheControl.onResultProcess does not run on fastPath',
      'cacheControl.onResultProcess does not run on cacheHit',
      'cacheControl.onResultProcess does not run on graphqlWs',
      'cacheControl.onResultProcess does not run on fanOutJoin',
      'cacheControl.onResultProcess does not run on fanOutEvent',
      'cacheControl.onExecute does not run on cacheHit',
    ]);
    // …and so does a new hook on one of ours.
    const operationLog = { ...plugins().operationLog, onParams() {} };
    expect(unexplainedSkips({ ...plugins(), operationLog }, RUNS, SKIPS)).toHaveLength(5);
  });
});

/** Our plugins as the server builds them (fresh instances: only their hooks are read). */
// Metrics given (never called here), as the server has them: the phase-metrics plugin is then in the list.
const plugins = () => graphqlPlugins(server.running.app, createResponseCache(server.running.app), {} as never) as unknown as Record<PluginName, object>;
