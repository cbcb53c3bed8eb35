// The operations jobgraph knows its own clients send (the dashboard's analytics documents, GraphiQL's analytics
// examples), run through the whole pipeline as the server starts (several times each: the second run compiles the
// document, later ones run it compiled): parsed, validated and compiled into Yoga's and graphql-jit's caches, the code
// paths warmed, so that the first visitor's first ask costs what every later one does (a document's first use is
// ~12–16 ms against ~1–2 ms after; see docs/benchmarks.md). Nothing is sent anywhere: the answers are dropped.
import { ANALYTICS_ANSWER_QUERY, ANALYTICS_QUESTIONS_QUERY } from '../../dashboard/operations';
import type { App } from '../app';
import { GRAPHIQL_EXAMPLES } from './graphiql';
import type { AuthUser } from '../users/service';
import { GRAPHQL_PATH, type GraphQLHandler } from './graphql-handler';

/**
 * Who the warm-up asks as: an ordinary user that no token names. Session ids start at 1; the response cache keeps
 * nothing for session 0 (so nothing reaches a shared Redis either).
 */
const WARM_UP_USER: AuthUser = { id: 0, username: '(warm-up)', role: 'USER', sessionId: 0, expiresAt: Number.MAX_SAFE_INTEGER };

/**
 * Runs of each known operation: three (the second compiles it, the third runs it compiled), and ten of the dashboard's
 * analytics document, whose first asks after start then run warmer code: its first ask took 1.5–2.7 ms against
 * 2.1–3.8 with three (`bun bench/analytics-uncached.ts 20`, alternating, six rounds each; p99 over its 27 first asks
 * the same within the noise) for ~7 ms more of the start's CPU, after listening. Ten runs of every document helped the
 * p99 too (1.4–2.3 against 2.9–3.6 ms) but cost authenticated `{ me }` ~5 % of its throughput (`bun bench/public.ts
 * 100 3`, six pairs): the shared pipeline's code compiled for the warm-up's shapes.
 */
const RUNS = 3;
const DASHBOARD_RUNS = 10;

export async function warmUpKnownOperations(app: App, yoga: GraphQLHandler): Promise<void> {
  const [question] = app.analytics.questions();
  if (!question) return;
  const asks: { query: string; variables?: object; operationName?: string; mayFail?: boolean }[] = [
    { query: ANALYTICS_QUESTIONS_QUERY, variables: {} },
    { query: ANALYTICS_ANSWER_QUERY, variables: { question: question.text, yearFrom: 2011, yearTo: 2021 } },
    // GraphiQL's analytics examples (their question is the bundled dataset's: another dataset may not have it).
    { query: GRAPHIQL_EXAMPLES, operationName: 'Questions' },
    { query: GRAPHIQL_EXAMPLES, operationName: 'Best5', mayFail: true },
  ];
  // Each several times in a row, the dashboard's first: a document's second use compiles it (at once for the warm-up,
  // src/graphql/compiled.ts), and the later ones run the compiled code.
  const runsOf = (query: string) => (query === ANALYTICS_ANSWER_QUERY ? DASHBOARD_RUNS : RUNS);
  for (const { mayFail, ...ask } of asks.flatMap((ask) => Array.from({ length: runsOf(ask.query) }, () => ask))) {
    const request = new Request(`http://localhost${GRAPHQL_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask) });
    const response = await yoga.fetch(request, { clientAddress: null, requestId: 'warm-up', authentication: { user: WARM_UP_USER, token: '', failure: null } });
    const { errors } = (await response.json()) as { errors?: { message: string }[] };
    if (errors?.length && !mayFail) app.log.warn({ errors: errors.map((error) => error.message) }, 'a known operation did not warm up');
  }
}
