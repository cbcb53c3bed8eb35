// GraphiQL as jobgraph serves it: bundled (no CDN), opening on example operations of every domain, login first.
import { buildAssets, REVALIDATE, type StaticAsset } from './static-assets';

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

let asset: Promise<StaticAsset> | undefined;
/**
 * The page (9 MB of HTML with GraphiQL and its editor inlined) rendered and compressed in the asset worker, once per
 * process: started by the first server of the process and shared by every later one. Neither the renderer's module
 * nor an uncompressed copy stays in this thread (about 70 MB at idle).
 */
export const graphiqlAsset = () =>
  (asset ??= buildAssets({ kind: 'graphiql', options: GRAPHIQL_OPTIONS, cacheControl: REVALIDATE }).then(
    ([page]) => page!,
    (error: unknown) => {
      // Tried again by the next visitor.
      asset = undefined;
      throw error;
    },
  ));

/** The page uncompressed, for Yoga should it be asked to render GraphiQL itself (routes.ts answers it first). */
export const graphiqlHtml = async () => Bun.gunzipSync((await graphiqlAsset()).gzip);
