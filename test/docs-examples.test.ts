// Every GraphQL example in README.md and docs/*.md, run as written against a real server, in the order a reader
// meets them (a later example may use what an earlier one created: the first job submitted is job "1"). A ```graphql
// block holds one or more operations (`#` comments allowed); a `# variables: {…}` comment line gives the operation
// above it its variables. A block preceded by `<!-- examples: not run: <why> -->` is skipped, saying why (the first
// login, whose password is whatever the first start printed). Queries and mutations go over HTTP, subscriptions over
// graphql-ws (a first event, or still open without an error after 1.5 s); each must answer without errors. They run
// as the admin, then as whoever a `login` example signed in (after a `logout`, the admin again). `shutdown` runs last.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLED_ANALYTICS_CSV } from '../src/config';
import { startTestServer, type TestServer } from './helpers/server';
import { startUpstream } from './helpers/upstream';

const ROOT = join(import.meta.dir, '..');
const FILES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)];

export interface DocExample {
  /** `README.md:134`: where a reader finds it. */
  where: string;
  text: string;
  variables?: Record<string, unknown>;
}

/** A line without its `#` comment (a `#` inside a string stays). */
function withoutComment(line: string): string {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (char === '\\' && inString) i++;
    else if (char === '"') inString = !inString;
    else if (char === '#' && !inString) return line.slice(0, i);
  }
  return line;
}

/** The operations of one ```graphql block: each top-level `query|mutation|subscription … { … }` or bare `{ … }`. */
export function operationsOf(block: string[], file: string, firstLine: number): DocExample[] {
  const examples: DocExample[] = [];
  let current: { start: number; text: string; depth: number; opened: boolean } | null = null;
  block.forEach((raw, index) => {
    const variables = /^\s*#\s*variables:\s*(\{.*\})\s*$/.exec(raw);
    if (variables) {
      const last = examples.at(-1);
      if (last) last.variables = JSON.parse(variables[1]!);
      return;
    }
    const line = withoutComment(raw);
    let inString = false;
    for (let i = 0; i < line.length; i++) {
      const char = line[i]!;
      if (!current) {
        if (/\s/.test(char)) continue;
        current = { start: firstLine + index, text: '', depth: 0, opened: false };
      }
      current.text += char;
      if (char === '\\' && inString) {
        current.text += line[++i] ?? '';
        continue;
      }
      if (char === '"') inString = !inString;
      if (inString) continue;
      if (char === '{') {
        current.depth++;
        current.opened = true;
      } else if (char === '}' && --current.depth === 0 && current.opened) {
        examples.push({ where: `${file}:${current.start}`, text: current.text.trim() });
        current = null;
      }
    }
    if (current) current.text += '\n';
  });
  if (current) throw new Error(`${file}:${(current as { start: number }).start}: an operation whose braces never close`);
  return examples;
}

const SCHEMA_EXCERPT = /^(?:(?:extend\s+)?(?:type|input|enum|scalar|interface|union|directive|schema)\b|\w+\s*(?:\([^)]*\))?\s*:)/;

/** Every example of a Markdown file, and the blocks it skips with their reasons. */
export function examplesOf(file: string): { examples: DocExample[]; skipped: { where: string; why: string }[] } {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const examples: DocExample[] = [];
  const skipped: { where: string; why: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```graphql') continue;
    const end = lines.findIndex((line, j) => j > i && line.trim() === '```');
    if (end === -1) throw new Error(`${file}:${i + 1}: a graphql block that never ends`);
    const before = lines.slice(0, i).findLast((line) => line.trim() !== '');
    const skip = before && /<!--\s*examples:\s*not run:\s*(.+?)\s*-->/.exec(before);
    const body = lines.slice(i + 1, end).map(withoutComment).join(' ').trim();
    if (skip) skipped.push({ where: `${file}:${i + 1}`, why: skip[1]! });
    // A piece of the schema (the contract's type definitions, a list of fields) is not something to send.
    else if (!SCHEMA_EXCERPT.test(body)) examples.push(...operationsOf(lines.slice(i + 1, end), file, i + 2));
    i = end;
  }
  return { examples, skipped };
}

const rootFieldOf = (text: string) => /^(?:query|mutation|subscription)?[^{]*\{\s*(?:\w+\s*:\s*)?(\w+)/.exec(text)?.[1];
const isSubscription = (text: string) => /^subscription\b/.test(text);

describe('the documentation’s GraphQL examples, as written', () => {
  const upstream = startUpstream();
  let server: TestServer;
  let token: string;
  const all = FILES.map((file) => ({ file, ...examplesOf(file) }));
  const examples = all.flatMap(({ examples }) => examples);
  // Ending the server ends every example after it: it goes last.
  const ordered = [...examples.filter((example) => rootFieldOf(example.text) !== 'shutdown'), ...examples.filter((example) => rootFieldOf(example.text) === 'shutdown')];

  beforeAll(async () => {
    // What the examples talk about: the bundled analytics data, and a relay upstream with restaurants.
    upstream.routes.set('restaurant', () => upstream.json([{ identifier: 'r1', name: 'Chez Bun', city: 'Lyon' }], { 'cache-control': 'max-age=60' }));
    upstream.routes.set('restaurant/r1', () => upstream.json({ identifier: 'r1', name: 'Chez Bun', dishes: [{ name: 'Soupe', price: 7.5, description: 'gratinée' }] }));
    server = await startTestServer({ ANALYTICS_CSV: BUNDLED_ANALYTICS_CSV, RELAY_UPSTREAM: upstream.base });
    token = await server.adminToken();
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    upstream.server.stop(true);
  });

  test('the docs have examples, and every skipped block says why', () => {
    expect(examples.length).toBeGreaterThan(0);
    for (const { skipped } of all) for (const skip of skipped) expect(skip.why.length).toBeGreaterThan(10);
  });

  test('every example answers without errors', async () => {
    const failures: string[] = [];
    for (const example of ordered) {
      let errors: unknown;
      if (isSubscription(example.text)) {
        const client = server.wsClient(token);
        errors = await new Promise((resolve) => {
          // Accepted and still open without an error counts too: some only speak when something happens (logins).
          const timer = setTimeout(() => {
            stop();
            resolve(undefined);
          }, 1500);
          const stop = client.subscribe(
            { query: example.text, variables: example.variables },
            {
              next: (result) => {
                clearTimeout(timer);
                stop();
                resolve(result.errors);
              },
              error: (error) => {
                clearTimeout(timer);
                resolve(Array.isArray(error) ? error : [{ message: String((error as Error)?.message ?? error) }]);
              },
              complete: () => {},
            },
          );
        });
      } else if (/@defer|@stream/.test(example.text)) {
        // An incremental answer: every part's errors, the later parts' included.
        const response = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'multipart/mixed', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: example.text, variables: example.variables }),
        });
        const parts = [...(await response.text()).matchAll(/\r\n\r\n(\{.*?\})\r\n---/gs)].map((match) => JSON.parse(match[1]!));
        const partErrors = parts.flatMap((part) => [...(part.errors ?? []), ...(part.incremental ?? []).flatMap((increment: any) => increment.errors ?? [])]);
        errors = response.status !== 200 || parts.length === 0 ? [{ message: `HTTP ${response.status}, ${parts.length} parts` }] : partErrors.length ? partErrors : undefined;
      } else {
        const result = await server.gql(example.text, example.variables, token);
        errors = result.errors ?? (result.status === 200 ? undefined : [{ message: `HTTP ${result.status}` }]);
        // A reader goes on as whoever they signed in as.
        if (rootFieldOf(example.text) === 'login' && result.data?.login?.token) token = result.data.login.token;
      }
      if (errors) failures.push(`${example.where}: ${example.text.replace(/\s+/g, ' ').slice(0, 100)} → ${JSON.stringify(errors).slice(0, 300)}`);
      // A logout ended the session the examples use: sign in again, as a reader would.
      if (rootFieldOf(example.text) === 'logout') token = await server.adminToken();
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
