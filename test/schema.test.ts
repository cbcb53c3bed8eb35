import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { getIntrospectionQuery, printSchema } from 'graphql';
import { assertEveryFieldHasAuthRule, buildSchema } from '../src/schema';
import { startTestServer, type TestServer } from './helpers/server';

describe('the printed schema', () => {
  test('schema/schema.graphql is what the code builds (run `bun run schema:print` after a change)', async () => {
    const file = await Bun.file(new URL('../schema/schema.graphql', import.meta.url)).text();
    expect(file).toBe(`${printSchema(buildSchema())}\n`);
  });

  test('every root field of the contract that exists so far has its promised arguments', () => {
    const schema = buildSchema();
    const query = schema.getQueryType()!.getFields();
    const mutation = schema.getMutationType()!.getFields();
    expect(Object.keys(query)).toEqual(expect.arrayContaining(['me', 'users', 'loginStats']));
    expect(query.users!.args.map((a) => a.name)).toEqual(expect.arrayContaining(['first', 'after']));
    expect(mutation.login!.args.map((a) => `${a.name}: ${a.type}`).sort()).toEqual(['password: String!', 'username: String!']);
    for (const name of ['logout', 'createUser', 'updateUser', 'deleteUser', 'changePassword']) expect(mutation[name]).toBeDefined();
    expect(String(schema.getType('User') && mutation.createUser!.type)).toBe('User!');
    expect(schema.getSubscriptionType()!.getFields().loginEvents).toBeDefined();
  });
});

describe('authorization coverage', () => {
  type Scopes = { AuthScopes: { public: boolean } };
  const makeBuilder = () =>
    // Cast: the drizzle plugin's global typings would otherwise demand its options on every builder.
    new SchemaBuilder<Scopes>({ plugins: [ScopeAuthPlugin], scopeAuth: { authScopes: () => ({ public: true }) } } as never);

  test('a root field without a rule fails the build', () => {
    const builder = makeBuilder();
    builder.queryType({
      fields: (t) => ({
        guarded: t.string({ authScopes: { public: true }, resolve: () => 'ok' }),
        forgotten: t.string({ resolve: () => 'oops' }),
      }),
    });
    expect(() => assertEveryFieldHasAuthRule(builder.toSchema())).toThrow('fields without an authorization rule: Query.forgotten');
  });

  test('an object type with a resolver field and no rule fails the build', () => {
    const builder = makeBuilder();
    const Thing = builder.objectRef<{ id: string }>('Thing').implement({
      fields: (t) => ({ id: t.exposeString('id'), computed: t.string({ resolve: () => 'x' }) }),
    });
    builder.queryType({ fields: (t) => ({ thing: t.field({ type: Thing, authScopes: { public: true }, resolve: () => ({ id: '1' }) }) }) });
    expect(() => assertEveryFieldHasAuthRule(builder.toSchema())).toThrow('Thing.computed');
  });

  test("jobgraph's own schema passes", () => {
    expect(() => buildSchema()).not.toThrow();
  });
});

describe('GraphiQL', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  test('is served from our own bundle (no CDN) and speaks WebSocket subscriptions', async () => {
    const response = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    // The page's script is a file of ours (CSP script-src 'self'): it renders GraphiQL over WebSocket.
    const script = /<script src="(\/graphiql\/[^"]+\.js)"><\/script>/.exec(html)?.[1];
    expect(script).toBeString();
    const code = await (await fetch(new URL(script!, server.url))).text();
    expect(code).toContain('YogaGraphiQL.renderYogaGraphiQL');
    expect(code).toContain('"subscriptionsProtocol":"WS"');
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/);
    expect(html).not.toMatch(/<link[^>]+href=["']https?:/);
    expect(html).not.toContain('unpkg.com');
  });

  test("its introspection query fits the default depth and cost limits", async () => {
    const result = await server.gql(getIntrospectionQuery());
    expect(result.errors).toBeUndefined();
    expect(result.data?.__schema.queryType.name).toBe('Query');
  });
});
