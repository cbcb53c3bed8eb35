import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { MAX_PAGE_SIZE } from '../src/graphql/ids';
import { startTestServer, type TestServer } from './helpers/server';

describe('a page larger than the maximum', () => {
  let server: TestServer;
  let admin: string;
  beforeAll(async () => {
    server = await startTestServer();
    admin = await server.adminToken();
  });
  afterAll(() => server.stop());

  test('is an error naming the maximum, on every connection, for first and last', async () => {
    for (const field of ['jobs', 'users']) {
      for (const arg of ['first', 'last']) {
        const result = await server.gql(`{ ${field}(${arg}: ${MAX_PAGE_SIZE + 1}) { edges { cursor } } }`, {}, admin);
        expect(result.data ?? null).toBeNull();
        expect(result.errors?.[0]).toMatchObject({
          message: `${arg} must be from 0 to ${MAX_PAGE_SIZE} (the most a page holds), got ${MAX_PAGE_SIZE + 1}; page on with after/before`,
          extensions: { code: 'BAD_USER_INPUT', field: arg, max: MAX_PAGE_SIZE },
        });
      }
    }
  });

  test('the maximum itself and 0 are fine', async () => {
    const result = await server.gql(`{ jobs(first: ${MAX_PAGE_SIZE}) { edges { cursor } } users(first: 0) { edges { cursor } } }`, {}, admin);
    expect(result.errors).toBeUndefined();
    expect(result.data!.users.edges).toEqual([]);
  });

  test('a negative size is refused the same way', async () => {
    const result = await server.gql('query($n: Int) { jobs(first: $n) { edges { cursor } } }', { n: -1 }, admin);
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first', max: MAX_PAGE_SIZE });
  });
});
