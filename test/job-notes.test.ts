import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTestServer, type TestServer } from './helpers/server';

// addJobNote: the source's `updateJobStatus(id, note)` as a `note` event in the job's history.
let server: TestServer;
let admin: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.adminToken();
  await server.gql('mutation { createQueue(input: { name: "held" }) { name } }', {}, admin);
  await server.gql('mutation { pauseQueue(name: "held") { paused } }', {}, admin);
});
afterAll(() => server.stop());

const NOTE = 'mutation($id: ID!, $note: String!) { addJobNote(id: $id, note: $note) { id status events { type payload } } }';

async function heldJob(token: string): Promise<string> {
  const result = await server.gql('mutation { submitPiJob(input: { simulations: 1000, queue: "held" }) { id } }', {}, token);
  return result.data!.submitPiJob.id;
}

describe('notes on a job', () => {
  test("the owner's note joins the history with its author; the status stays the engine's, and the job still runs", async () => {
    const owner = await server.userWithRole('USER');
    const id = await heldJob(owner.token);
    const noted = await server.gql(NOTE, { id, note: '  processing by hand, see ticket 12  ' }, owner.token);
    expect(noted.errors).toBeUndefined();
    expect(noted.data?.addJobNote.status).toBe('QUEUED');
    expect(noted.data?.addJobNote.events).toEqual([
      { type: 'queued', payload: null },
      { type: 'note', payload: { note: 'processing by hand, see ticket 12', by: Number(owner.id), username: owner.username } },
    ]);
    await server.gql('mutation { resumeQueue(name: "held") { paused } }', {}, admin);
    try {
      for (let i = 0; ; i++) {
        const { data } = await server.gql('query($id: ID!) { job(id: $id) { status events { type } } }', { id }, owner.token);
        if (data?.job.status === 'SUCCEEDED') {
          expect(data.job.events.map((event: any) => event.type)).toEqual(['queued', 'note', 'started', 'succeeded']);
          break;
        }
        if (i > 200) throw new Error(`job ${id} is ${data?.job.status}`);
        await Bun.sleep(20);
      }
    } finally {
      await server.gql('mutation { pauseQueue(name: "held") { paused } }', {}, admin);
    }
  });

  test("managers and admins note anyone's job, finished ones too; another user cannot even see it", async () => {
    const owner = await server.userWithRole('USER');
    const stranger = await server.userWithRole('USER');
    const manager = await server.userWithRole('MANAGER');
    const id = await heldJob(owner.token);
    await server.gql('mutation($id: ID!) { cancelJob(id: $id) { status } }', { id }, owner.token);
    expect((await server.gql(NOTE, { id, note: 'cancelled on request' }, manager.token)).errors).toBeUndefined();
    expect((await server.gql(NOTE, { id, note: 'checked' }, admin)).errors).toBeUndefined();
    const refused = await server.gql(NOTE, { id, note: 'not mine' }, stranger.token);
    expect(refused.errors?.[0]).toMatchObject({ message: `no job with id ${id}`, extensions: { code: 'NOT_FOUND' } });
    const { data } = await server.gql('query($id: ID!) { job(id: $id) { status events { type payload } } }', { id }, owner.token);
    expect(data?.job.status).toBe('CANCELLED');
    expect(data?.job.events.filter((event: any) => event.type === 'note').map((event: any) => [event.payload.note, event.payload.username])).toEqual([
      ['cancelled on request', manager.username],
      ['checked', 'admin'],
    ]);
  });

  test('a note is 1 to 2,000 characters once trimmed; an unknown job is NOT_FOUND', async () => {
    const id = await heldJob(admin);
    const empty = await server.gql(NOTE, { id, note: '   ' }, admin);
    expect(empty.errors?.[0]).toMatchObject({ message: 'invalid field note: it is empty', extensions: { code: 'BAD_USER_INPUT' } });
    const long = await server.gql(NOTE, { id, note: 'x'.repeat(2001) }, admin);
    expect(long.errors?.[0]).toMatchObject({
      message: 'note is longer than 2,000 characters',
      extensions: { code: 'BAD_USER_INPUT', field: 'note', maxLength: 2000 },
    });
    expect((await server.gql(NOTE, { id, note: 'x'.repeat(2000) }, admin)).errors).toBeUndefined();
    const missing = await server.gql(NOTE, { id: '999999', note: 'hello' }, admin);
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
