// GraphiQL as jobgraph serves it: bundled (no CDN), opening on example operations of every domain, login first.
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { compressAsset, IMMUTABLE, REVALIDATE, type StaticAsset } from './static-assets';

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

/** Where GraphiQL's scripts are served: the page loads them as files, so its CSP allows no inline script. */
export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

interface RenderedGraphiQL {
  html: string;
  /** Each script the renderer inlined, by its file name under GRAPHIQL_ASSET_PREFIX (named by its hash). */
  scripts: Map<string, string>;
}

let rendered: RenderedGraphiQL | undefined;
/**
 * Rendered once per process: Yoga's renderer inlines GraphiQL (about 8 MB of script) in the page; each inline script
 * becomes a file the page loads instead, so `script-src 'self'` holds (see PAGE_CSP in static-assets.ts).
 */
function render(): RenderedGraphiQL {
  const scripts = new Map<string, string>();
  // An HTML parser ends a script at its first `</script>`; the renderer escapes the ones inside strings (`<\/script>`).
  const html = renderGraphiQL(GRAPHIQL_OPTIONS).replace(/<script>([\s\S]*?)<\/script>/g, (_tag, body: string) => {
    const name = `${Bun.hash(body).toString(36)}.js`;
    scripts.set(name, body);
    return `<script src="${GRAPHIQL_ASSET_PREFIX}${name}"></script>`;
  });
  return { html, scripts };
}

export const graphiqlHtml = () => (rendered ??= render()).html;

let asset: Promise<StaticAsset> | undefined;
/** The page compressed; started by the first server of the process and shared by every later one. */
export const graphiqlAsset = () => (asset ??= compressAsset(new TextEncoder().encode(graphiqlHtml()), 'text/html; charset=utf-8', REVALIDATE));

const scriptAssets = new Map<string, Promise<StaticAsset>>();
/** One of the page's scripts, compressed once (its name is its hash: cached for good); undefined for another name. */
export function graphiqlScript(name: string): Promise<StaticAsset> | undefined {
  const body = (rendered ??= render()).scripts.get(name);
  if (body === undefined) return undefined;
  let script = scriptAssets.get(name);
  if (!script) scriptAssets.set(name, (script = compressAsset(new TextEncoder().encode(body), 'text/javascript; charset=utf-8', IMMUTABLE)));
  return script;
}

/** Every script of the page compressed, with the page (at start, in the background). */
export const graphiqlAssets = () => Promise.all([graphiqlAsset(), ...[...(rendered ??= render()).scripts.keys()].map((name) => graphiqlScript(name)!)]);
