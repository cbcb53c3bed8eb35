// A flow survives kill -9: every node succeeds exactly once, every child starts after all its parents, and the
// flow ends SUCCEEDED. SQLite: the process is killed mid-flow and restarted on the same file.
import { Database } from 'bun:sqlite';
import { expect, test } from 'bun:test';
import { join } from 'node:path';
import { spawnServer } from './helpers/process';
import { createTestDatabase, onSqlite, TEST_DATABASE_URL } from './helpers/server';
import { tempDirs } from './helpers/temp-dirs';

const tempDir = tempDirs();

const ADMIN_PASSWORD = 'flow-recovery-password';

async function gql(url: string, query: string, token?: string, variables?: Record<string, unknown>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: any[] };
}

const login = async (url: string) => (await gql(url, `mutation { login(username: "admin", password: "${ADMIN_PASSWORD}") { token } }`)).data.login.token as string;

/** 1,000 nodes in 10 layers of 100; each node past the first layer waits for two of the layer before. */
export function layeredFlow(simulations: number) {
  return Array.from({ length: 1000 }, (_, i) => {
    const layer = Math.floor(i / 100);
    const at = i % 100;
    const dependsOn = layer ? [`n${(layer - 1) * 100 + at}`, `n${(layer - 1) * 100 + ((at + 1) % 100)}`] : [];
    return { key: `n${i}`, job: { pi: { simulations, seed: i + 1 } }, dependsOn };
  });
}

test.skipIf(!onSqlite)('kill -9 mid-flow, restart: 1,000 nodes succeed once each, children after parents, the flow SUCCEEDS', async () => {
  const databasePath = join(tempDir('jobgraph-flow-recovery-'), 'jobgraph.db');
  const env = { DATABASE_PATH: databasePath, ADMIN_PASSWORD, WORKERS: '2' };
  const first = await spawnServer(env);
  const token = await login(first.url);
  const submitted = await gql(first.url, 'mutation($input: SubmitFlowInput!) { submitFlow(input: $input) { id } }', token, {
    input: { nodes: layeredFlow(200_000), options: { maxAttempts: 5 } },
  });
  const flowId = submitted.data.submitFlow.id as string;
  // Between an answer saying nodes run and the kill, a loaded machine can let the runner settle them all (beside a
  // second suite it did: nothing was left to recover). The process is frozen (SIGSTOP) while the file is read, and
  // killed only once the file itself shows nodes RUNNING.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const counts = (await gql(first.url, '{ jobCounts { succeeded running } }', token)).data.jobCounts;
    if (counts.succeeded >= 150 && counts.running > 0) {
      first.proc.kill('SIGSTOP');
      const frozen = new Database(databasePath, { readonly: true });
      const { n } = frozen.query(`SELECT count(*) AS n FROM jobs WHERE status = 'RUNNING'`).get() as { n: number };
      frozen.close();
      if (n > 0) break;
      first.proc.kill('SIGCONT');
    }
    if (Date.now() > deadline) throw new Error(`the flow did not get going: ${JSON.stringify(counts)}`);
    await Bun.sleep(20);
  }
  first.proc.kill('SIGKILL');
  await first.proc.exited;

  const second = await spawnServer(env);
  try {
    const again = await login(second.url);
    const finishBy = Date.now() + 120_000;
    let status = 'RUNNING';
    while (status === 'RUNNING') {
      if (Date.now() > finishBy) throw new Error('the flow did not finish after the restart');
      await Bun.sleep(100);
      status = (await gql(second.url, 'query($id: ID!) { flow(id: $id) { status } }', again, { id: flowId })).data.flow.status;
    }
    expect(status).toBe('SUCCEEDED');
  } finally {
    await second.stop();
  }
  const db = new Database(databasePath, { readonly: true });
  try {
    const succeeded = db.query(`SELECT e.job_id, count(*) AS n FROM job_events e JOIN flow_nodes f ON f.job_id = e.job_id WHERE f.flow_id = ? AND e.type = 'succeeded' GROUP BY e.job_id`).all(Number(flowId)) as { n: number }[];
    expect(succeeded).toHaveLength(1000);
    expect(succeeded.every((row) => row.n === 1)).toBe(true);
    // A child's last start (the one that succeeded) follows every parent's success.
    const early = db
      .query(
        `SELECT count(*) AS n FROM job_dependencies d JOIN jobs c ON c.id = d.child_id JOIN jobs p ON p.id = d.parent_id
         JOIN flow_nodes f ON f.job_id = c.id WHERE f.flow_id = ? AND c.started_at < p.finished_at`,
      )
      .get(Number(flowId)) as { n: number };
    expect(early.n).toBe(0);
    const recovered = db.query(`SELECT count(*) AS n FROM job_events e JOIN flow_nodes f ON f.job_id = e.job_id WHERE f.flow_id = ? AND e.type = 'recovered'`).get(Number(flowId)) as { n: number };
    expect(recovered.n).toBeGreaterThan(0);
  } finally {
    db.close();
  }
}, 240_000);

test.skipIf(!TEST_DATABASE_URL)('three instances on PostgreSQL, one killed with kill -9 mid-flow: 1,000 nodes succeed once each, in order', async () => {
  const database = await createTestDatabase();
  const env = { DATABASE_URL: database.url, ADMIN_PASSWORD, WORKERS: '1', JOB_LEASE_SECONDS: '2', QUOTE_SERVER: '127.0.0.1:9' };
  const servers = await Promise.all([0, 1, 2].map(() => spawnServer(env, 60_000)));
  const sql = new Bun.SQL(database.url, { max: 1 });
  try {
    const token = await login(servers[0]!.url);
    const submitted = await gql(servers[0]!.url, 'mutation($input: SubmitFlowInput!) { submitFlow(input: $input) { id } }', token, {
      input: { nodes: layeredFlow(200_000), options: { maxAttempts: 5 } },
    });
    const flowId = Number(submitted.data.submitFlow.id);
    const victim = servers[1]!;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const [row] = await sql.unsafe(`SELECT count(*) FILTER (WHERE status = 'SUCCEEDED')::int AS done, count(*) FILTER (WHERE status = 'RUNNING')::int AS running FROM jobs`);
      if (row.done >= 150 && row.running > 0) break;
      if (Date.now() > deadline) throw new Error(`the flow did not get going: ${JSON.stringify(row)}`);
      await Bun.sleep(20);
    }
    victim.proc.kill('SIGKILL');
    await victim.proc.exited;
    const finishBy = Date.now() + 180_000;
    let status = 'RUNNING';
    while (status === 'RUNNING') {
      if (Date.now() > finishBy) throw new Error('the flow did not finish after the kill');
      await Bun.sleep(200);
      [{ status }] = await sql.unsafe(`SELECT status FROM flows WHERE id = $1`, [flowId]);
    }
    expect(status).toBe('SUCCEEDED');
    const succeeded = await sql.unsafe(
      `SELECT e.job_id, count(*)::int AS n FROM job_events e JOIN flow_nodes f ON f.job_id = e.job_id WHERE f.flow_id = $1 AND e.type = 'succeeded' GROUP BY e.job_id`,
      [flowId],
    );
    expect(succeeded).toHaveLength(1000);
    expect(succeeded.every((row: { n: number }) => row.n === 1)).toBe(true);
    const [early] = await sql.unsafe(
      `SELECT count(*)::int AS n FROM job_dependencies d JOIN jobs c ON c.id = d.child_id JOIN jobs p ON p.id = d.parent_id
       JOIN flow_nodes f ON f.job_id = c.id WHERE f.flow_id = $1 AND c.started_at < p.finished_at`,
      [flowId],
    );
    expect(early.n).toBe(0);
  } finally {
    await sql.close();
    await Promise.all(servers.map((server) => (server.proc.exitCode === null && !server.proc.killed ? server.stop() : Promise.resolve(0))));
    await database.drop();
  }
}, 360_000);
