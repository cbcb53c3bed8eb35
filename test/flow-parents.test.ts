// A flow node's kind receives its parents' results by key (ctx.parents): a kind file (JOB_KINDS_DIR) that adds its
// own number to its parents' totals, run as a flow through the real endpoint, on SQLite or PostgreSQL.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ServerProcess, spawnServer } from './helpers/process';
import { createTestDatabase, TEST_DATABASE_URL } from './helpers/server';

const PASSWORD = 'flow-parents-admin-password';
const SUM = `import { defineJobKind } from "jobgraph";
import { z } from "zod";
export default defineJobKind({
  name: "sum",
  description: "Its number plus its parents' totals.",
  input: z.object({ n: z.number().int() }),
  result: z.object({ total: z.number().int(), parents: z.array(z.string()) }),
  run: async (input, ctx) => ({
    total: input.n + Object.values(ctx.parents).reduce((sum, parent) => sum + ((parent as { total?: number } | null)?.total ?? 0), 0),
    parents: Object.keys(ctx.parents).sort(),
  }),
});
`;

let dir: string;
let server: ServerProcess;
let token: string;
let database: Awaited<ReturnType<typeof createTestDatabase>> | null = null;

async function gql(query: string, variables?: Record<string, unknown>) {
  const response = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: any[] };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jobgraph-flow-kinds-'));
  writeFileSync(join(dir, 'sum.ts'), SUM);
  database = TEST_DATABASE_URL ? await createTestDatabase() : null;
  server = await spawnServer({ JOB_KINDS_DIR: dir, ADMIN_PASSWORD: PASSWORD, WORKERS: '1', ...(database ? { DATABASE_URL: database.url } : { DATABASE_PATH: join(dir, 'jobgraph.db') }) }, 60_000);
  token = (await gql(`mutation { login(username: "admin", password: "${PASSWORD}") { token } }`)).data.login.token;
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

test('each node’s kind gets its parents’ results by key; a root gets none', async () => {
  const node = (key: string, n: number, dependsOn: string[] = []) => ({ key, job: { sum: { n } }, dependsOn });
  const submitted = await gql('mutation($input: SubmitFlowInput!) { submitFlow(input: $input) { id } }', {
    input: { nodes: [node('a', 1), node('b', 2), node('c', 10, ['a', 'b']), node('d', 100, ['c', 'a'])] },
  });
  expect(submitted.errors).toBeUndefined();
  const id = submitted.data.submitFlow.id;
  let flow: any;
  for (const deadline = Date.now() + 60_000; ; ) {
    flow = (await gql('query($id: ID!) { flow(id: $id) { status nodes { key job { result { ... on SumResult { total parents } } } } } }', { id })).data.flow;
    if (flow.status !== 'RUNNING' || Date.now() > deadline) break;
    await Bun.sleep(100);
  }
  expect(flow.status).toBe('SUCCEEDED');
  expect(flow.nodes.map((n: any) => [n.key, n.job.result.total, n.job.result.parents])).toEqual([
    ['a', 1, []],
    ['b', 2, []],
    ['c', 13, ['a', 'b']],
    ['d', 114, ['a', 'c']],
  ]);
}, 90_000);
