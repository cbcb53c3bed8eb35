// The dashboard's analytics documents are prepared as the server starts (src/http/warm-up.ts): a visitor's first ask
// reuses the document the warm-up parsed, validated and compiled, gets the right answer, and the warm-up leaves no
// answer any caller can read.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { DocumentNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ANALYTICS_ANSWER_QUERY, ANALYTICS_QUESTIONS_QUERY } from '../dashboard/operations';
import { GRAPHIQL_EXAMPLES } from '../src/http/graphiql';
import { startTestServer, type TestServer } from './helpers/server';

/** Every execution's document and request id, in order. */
const executions: { document: DocumentNode; requestId: string }[] = [];
const probe: Plugin = {
  onExecute({ args }) {
    executions.push({ document: args.document, requestId: (args.contextValue as unknown as { requestId: string }).requestId });
  },
};

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({}, { probes: [probe], warmUp: true });
});
afterAll(() => server.stop());

async function warmedUp(): Promise<void> {
  for (let waited = 0; executions.filter((execution) => execution.requestId === 'warm-up').length < 8; waited += 10) {
    if (waited > 10_000) throw new Error('the warm-up did not run');
    await Bun.sleep(10);
  }
}

describe("the dashboard's documents, prepared at start", () => {
  test('the first ask reuses the document the warm-up compiled, and answers as the service does', async () => {
    await warmedUp();
    const warmUpDocuments = executions.filter((execution) => execution.requestId === 'warm-up').map((execution) => execution.document);
    const token = await server.adminToken();
    const { data } = await server.gql<{ analytics: { questions: { text: string }[] } }>(ANALYTICS_QUESTIONS_QUERY, {}, token);
    const question = data!.analytics.questions.at(-1)!.text;
    const before = executions.length;
    const answer = await server.gql(ANALYTICS_ANSWER_QUERY, { question, yearFrom: 2011, yearTo: 2021 }, token);
    expect(answer.errors).toBeUndefined();
    const service = server.running.app.analytics;
    const years = { from: 2011, to: 2021 };
    expect(answer.data!.analytics).toEqual({
      statesMean: service.statesMean(question, years).map(({ state, value }) => ({ state, value })),
      best5: service.best5(question, years).map(({ state, value }) => ({ state, value })),
      worst5: service.worst5(question, years).map(({ state, value }) => ({ state, value })),
      globalMean: service.globalMean(question, years),
    });
    const [first] = executions.slice(before);
    // The same object: Yoga's parser cache handed back the warm-up's document, and graphql-jit keys its compiled query on it.
    expect(warmUpDocuments).toContain(first!.document);
  });

  test("the warm-up's answers are nobody's: the same ask by a new session runs, not served from a cache", async () => {
    await warmedUp();
    const { token } = await server.userWithRole('USER');
    const { data } = await server.gql<{ analytics: { questions: { text: string }[] } }>(ANALYTICS_QUESTIONS_QUERY, {}, token);
    const question = data!.analytics.questions[0]!.text;
    const before = executions.length;
    // The warm-up asked exactly this (the first question, 2011–2021): were its answer cached for anyone, no execution would run.
    const answer = await server.gql(ANALYTICS_ANSWER_QUERY, { question, yearFrom: 2011, yearTo: 2021 }, token);
    expect(answer.errors).toBeUndefined();
    expect(executions.length).toBe(before + 1);
  });

  test("GraphiQL's analytics examples: the first run reuses the warm-up's document", async () => {
    await warmedUp();
    const warmUpDocuments = executions.filter((execution) => execution.requestId === 'warm-up').map((execution) => execution.document);
    const token = await server.adminToken();
    for (const operationName of ['Questions', 'Best5']) {
      const before = executions.length;
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: GRAPHIQL_EXAMPLES, operationName }),
      });
      const body = (await response.json()) as { data?: { analytics: object }; errors?: unknown };
      expect(body.errors).toBeUndefined();
      expect(Object.keys(body.data!.analytics)).toEqual(operationName === 'Questions' ? ['questions', 'states'] : ['best5']);
      expect(warmUpDocuments).toContain(executions[before]!.document);
    }
  });
});
