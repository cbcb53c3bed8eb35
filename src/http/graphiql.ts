// GraphiQL as jobgraph serves it: bundled (no CDN), opening on example operations of every domain, login first.
import { buildAssets, IMMUTABLE, REVALIDATE, type StaticAsset } from './static-assets';

/**
 * What a new visitor sees in the editor (a `?query=` in the URL, or a document GraphiQL kept, wins). One document of
 * named operations rather than tabs: GraphiQL's default tabs would hide a `?query=` link's operation.
 */
export const GRAPHIQL_EXAMPLES = `# Welcome to jobgraph. Run Login first (the ▶ button lists the operations below), copy the token, and put
#   { "authorization": "Bearer <token>" }
# in the Headers tab underneath. Then run any of the others. The dashboard is at /dashboard.

mutation Login {
  login(username: "admin", password: "<your password>") { token user { id username role } }
}

query Me { me { id username role loginCount lastLoginAt } }

# ---- jobs and queues
mutation SubmitPi { submitPiJob(input: { simulations: 10000000, concurrency: 4 }) { id status } }
subscription WatchJob { jobUpdated(id: "1") { id status progress durationMs result { ... on PiEstimate { pi seconds } } } }
query RecentJobs {
  jobs(first: 10) { totalCount edges { node { id kind status queue progress durationMs owner { username } } } pageInfo { hasNextPage endCursor } }
}
query Queues { queues { name concurrency maxLength paused counts { queued running succeeded failed } } }
query WorkerPool { workerPool { size busy tasksQueued jobsPerSecond runMs { p50 p90 p99 } } }   # managers and admins

# ---- scheduling (docs/scheduling.md)
mutation SubmitLater { submitPiJob(input: { simulations: 1000000, delayMs: 60000, idempotencyKey: "pi-later-1" }) { id status runAt idempotencyKey } }
mutation CreateSchedule {   # managers and admins
  createSchedule(input: { name: "pi-every-minute", cron: "0 * * * * *", timezone: "UTC", job: { pi: { simulations: 1000000 } }, overlap: SKIP }) { name nextRunAt }
}
query Schedules { schedules { name cron timezone paused nextRunAt lastRunAt runs(first: 5) { totalCount edges { node { id status } } } } }
mutation RetryDeadLetters { retryJobs(filter: { status: FAILED }) }
mutation CancelQueued { cancelJobs(filter: { status: QUEUED, queue: "default" }) }

# ---- simulations and the calculator
query EstimatePi { estimatePi(simulations: 1000000, concurrency: 2) { pi seconds } }
query Forecast { forecast(assets: [3, 14, 15], seed: 92) { forecasts { asset value weight } } }
query Evaluate { evaluate(expressions: ["1 + 2 * 3", "2 ^ 3 ^ 2", "1 / 0"]) { expression value error } }

# ---- analytics
query Questions { analytics { questions { text direction } states } }
query Best5 { analytics { best5(question: "Percent of adults aged 18 years and older who have obesity") { state value } } }

# ---- quotes
query Quotes { quotes(protocol: UDP, concurrency: 4) { quotes seconds } }
subscription QuoteStream { quoteStream(protocol: TCP, intervalMs: 1000) { index text receivedAt } }

# ---- users (admins)
query Users { users(first: 20) { totalCount edges { node { id username role disabled } } } }
subscription Logins { loginEvents { username success reason address at } }
`;

export const GRAPHIQL_OPTIONS = { title: 'jobgraph', subscriptionsProtocol: 'WS' as const, defaultQuery: GRAPHIQL_EXAMPLES };

/** Where GraphiQL's scripts are served: the page loads them as files, so its CSP allows no inline script. */
export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

let built: Promise<Map<string, StaticAsset>> | undefined;
/**
 * The page and its scripts, by path (`/` for the page, `<hash>.js` for a script), built in the asset worker once per
 * process: started by the first visit of any server of the process and shared by every later one. Yoga's renderer inlines GraphiQL
 * (about 8 MB of script); the worker moves each inline script into a file the page loads, so `script-src 'self'`
 * holds (see PAGE_CSP in static-assets.ts). Neither the renderer's module nor an uncompressed copy of a large file
 * stays in this thread (about 70 MB at idle).
 */
export const graphiqlAssets = () =>
  (built ??= buildAssets({ kind: 'graphiql', options: GRAPHIQL_OPTIONS, cacheControl: REVALIDATE, scriptPrefix: GRAPHIQL_ASSET_PREFIX, scriptCacheControl: IMMUTABLE }).then(
    (assets) => new Map(assets.map(({ path, ...asset }) => [path, asset])),
    (error: unknown) => {
      // Tried again by the next visitor.
      built = undefined;
      throw error;
    },
  ));

/** The page itself (GET /graphql asking for HTML). */
export const graphiqlAsset = async () => (await graphiqlAssets()).get('/')!;

/** One of the page's scripts (its name is its hash: cached for good); undefined for another name. */
export async function graphiqlScript(name: string): Promise<StaticAsset | undefined> {
  return name === '/' ? undefined : (await graphiqlAssets()).get(name);
}

/** The page uncompressed, for Yoga should it be asked to render GraphiQL itself (routes.ts answers it first). */
export const graphiqlHtml = async () => Bun.gunzipSync((await graphiqlAsset()).gzip);
