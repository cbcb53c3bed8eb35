// The allowed import directions (README.md, "Architecture"), checked over every import of src/**/*.ts: static ones,
// `import type`, `export … from`, side-effect imports and `import('…')` alike. A type-only import counts: it ties
// the modules together as surely as a value does.
import { describe, expect, test } from 'bun:test';
import { Glob } from 'bun';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SRC = resolve(import.meta.dir, '..', 'src');

/** The domain folders: each owns its service, its job kinds and its GraphQL types. */
const DOMAINS = ['analytics', 'calculator', 'diagnostics', 'queues', 'quotes', 'relay', 'schedules', 'simulations', 'users'];

interface Import {
  /** The importing file, relative to src/ (`jobs/service.ts`). */
  file: string;
  line: number;
  specifier: string;
  /** The imported file relative to src/ (`../quote-server/…` outside it), or null for a package (`zod`, `bun:sqlite`). */
  target: string | null;
}

// `import … from '…'` and `export … from '…'` (over several lines too), `import '…'`, `import('…')`.
const IMPORT_PATTERNS = [/\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g];

/** Comments blanked (newlines kept, so line numbers hold): an example in a comment is not an import. */
const withoutComments = (text: string) => text.replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, (comment) => comment.replace(/[^\n]/g, ' '));

/** A relative specifier as the file it names (`./x` is x.ts, a folder its index.ts), relative to src/. */
function resolveTarget(file: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = resolve(SRC, dirname(file), specifier);
  const found = [base, `${base}.ts`, join(base, 'index.ts')].find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
  return relative(SRC, found ?? `${base}.ts`).split('\\').join('/');
}

function importsOf(file: string, text: string): Import[] {
  const code = withoutComments(text);
  const found = new Map<number, Import>();
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of code.matchAll(pattern)) {
      const at = match.index! + match[0].lastIndexOf(match[1]!);
      if (found.has(at)) continue;
      found.set(at, { file, line: code.slice(0, at).split('\n').length, specifier: match[1]!, target: resolveTarget(file, match[1]!) });
    }
  }
  return [...found.values()].sort((a, b) => a.line - b.line);
}

const folderOf = (path: string) => path.split('/')[0]!;
const inFolder = (path: string | null, ...folders: string[]) => path !== null && folders.includes(folderOf(path)) && path.includes('/');
/** src/graphql/ (the core), src/<domain>/graphql.ts (a domain's types) and src/schema.ts (the assembler). */
const isGraphQLModule = (path: string) => folderOf(path) === 'graphql' || path.endsWith('/graphql.ts') || path === 'schema.ts';

interface Rule {
  /** The rule, as a failure prints it. */
  name: string;
  appliesTo(file: string): boolean;
  refuses(entry: Import): boolean;
}

/** What wires the app and serves it; it may import anything. */
const COMPOSITION_ROOT = ['app.ts', 'server.ts', 'main.ts'];

const RULES: Rule[] = [
  {
    name: 'the package entry ("jobgraph": src/kinds/public.ts, define.ts) imports only itself and zod: a kind file loads it in every worker',
    appliesTo: (file) => file === 'kinds/public.ts' || file === 'kinds/define.ts',
    refuses: ({ target, specifier }) => (target === null ? specifier !== 'zod' : target !== 'kinds/define.ts'),
  },
  {
    name: 'the job engine (src/jobs/) imports no domain: domains register their kinds in src/app.ts',
    appliesTo: (file) => folderOf(file) === 'jobs' && file.includes('/'),
    refuses: ({ target }) => inFolder(target, ...DOMAINS),
  },
  {
    name: 'kernels (src/compute/) import nothing outside src/compute/: no package, no bun:*, no node:*, no graphql',
    appliesTo: (file) => folderOf(file) === 'compute',
    refuses: ({ target }) => target === null || !inFolder(target, 'compute'),
  },
  {
    name: 'only GraphQL modules (src/graphql/, src/<domain>/graphql.ts, src/schema.ts) and the HTTP transport (src/http/) import src/graphql/',
    appliesTo: (file) => !isGraphQLModule(file) && folderOf(file) !== 'http',
    refuses: ({ target }) => inFolder(target, 'graphql'),
  },
  {
    name: 'src/events.ts imports no domain (nor the job engine): every domain publishes through it',
    appliesTo: (file) => file === 'events.ts',
    refuses: ({ target }) => inFolder(target, ...DOMAINS, 'jobs'),
  },
  {
    name: 'the worker pool (src/pool/) knows no job kind: it imports only itself and the kernels',
    appliesTo: (file) => folderOf(file) === 'pool',
    refuses: ({ target }) => target !== null && !inFolder(target, 'pool', 'compute'),
  },
  {
    name: 'resolvers (src/<domain>/graphql.ts) reach the database, the pool and the configuration only through services',
    appliesTo: (file) => file.endsWith('/graphql.ts') && folderOf(file) !== 'graphql',
    refuses: ({ target }) => target === 'db/client.ts' || target === 'config.ts' || target === 'app.ts' || inFolder(target, 'pool'),
  },
  {
    name: 'the GraphQL core (src/graphql/) imports neither src/app.ts, a domain nor the job engine: it sees them through src/services.ts',
    appliesTo: (file) => folderOf(file) === 'graphql' && file.includes('/'),
    refuses: ({ target }) => target === 'app.ts' || inFolder(target, ...DOMAINS, 'jobs'),
  },
  {
    name: 'interfaces receive Services from src/services.ts: only the composition root (src/server.ts, src/main.ts) and the HTTP transport import src/app.ts',
    appliesTo: (file) => !COMPOSITION_ROOT.includes(file) && folderOf(file) !== 'http' && !(folderOf(file) === 'graphql' && file.includes('/')),
    refuses: ({ target }) => target === 'app.ts',
  },
  {
    name: 'the schema assembler (src/schema.ts) sits on top: only the composition root and the HTTP transport import it',
    appliesTo: (file) => !COMPOSITION_ROOT.includes(file) && folderOf(file) !== 'http',
    refuses: ({ target }) => target === 'schema.ts',
  },
];

/** Deliberate exceptions, each with its reason (none today: add one here, with why, rather than loosen a rule). */
const EXCEPTIONS: { file: string; specifier: string; reason: string }[] = [];

function violationsOf(imports: Import[]): string[] {
  const problems: string[] = [];
  for (const entry of imports) {
    if (EXCEPTIONS.some((exception) => exception.file === entry.file && exception.specifier === entry.specifier)) continue;
    for (const rule of RULES) {
      if (rule.appliesTo(entry.file) && rule.refuses(entry)) problems.push(`src/${entry.file}:${entry.line} → '${entry.specifier}'  (${rule.name})`);
    }
  }
  return problems;
}

/** Every import circle (a strongly connected group of files, type-only imports included), each as its sorted files. */
function circlesOf(imports: Import[]): string[][] {
  const edges = new Map<string, string[]>();
  for (const { file, target } of imports) {
    edges.set(file, [...(edges.get(file) ?? []), ...(target ? [target] : [])]);
    if (target && !edges.has(target)) edges.set(target, []);
  }
  // Tarjan's algorithm: each file gets an index in visiting order and the lowest index it reaches back to.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const circles: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    for (const next of edges.get(file)!) {
      if (!index.has(next)) visit(next);
      if (stack.includes(next)) low.set(file, Math.min(low.get(file)!, low.get(next)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const group = stack.splice(stack.indexOf(file));
    if (group.length > 1 || edges.get(file)!.includes(file)) circles.push(group.sort());
  };
  for (const file of edges.keys()) if (!index.has(file)) visit(file);
  return circles;
}

const sourceFiles = () => [...new Glob('**/*.ts').scanSync(SRC)].map((path) => path.split('\\').join('/')).sort();
const allImports = () => sourceFiles().flatMap((file) => importsOf(file, readFileSync(join(SRC, file), 'utf8')));

describe('import directions', () => {
  test('src/ keeps every rule (each offending file → import is listed)', () => {
    expect(violationsOf(allImports())).toEqual([]);
  });

  test('the scan sees every form of import, and only imports', () => {
    const text = [
      "import type { AnalyticsService } from '../analytics/service';",
      'import {',
      '  piJob,',
      "} from '../simulations/pi';",
      "export { calcJob } from '../calculator/job';",
      "import '../users/graphql';",
      "const lazy = () => import('../quotes/service');",
      "// import { fake } from '../relay/service';",
      "/* export * from '../queues/service'; */",
      "import { z } from 'zod';",
    ].join('\n');
    const imports = importsOf('jobs/example.ts', text);
    expect(imports.map(({ line, target }) => [line, target])).toEqual([
      [1, 'analytics/service.ts'],
      [4, 'simulations/pi.ts'],
      [5, 'calculator/job.ts'],
      [6, 'users/graphql.ts'],
      [7, 'quotes/service.ts'],
      [10, null],
    ]);
    expect(violationsOf(imports)).toHaveLength(5);
  });

  test('no import circle in src/ (a type-only import closes one too)', () => {
    expect(circlesOf(allImports())).toEqual([]);
  });

  test('a circle is found, however long', () => {
    const imports = [
      ...importsOf('graphql/context.ts', "import type { ResponseFreshness } from './response-cache';"),
      ...importsOf('graphql/response-cache.ts', "import type { GraphQLContext } from './context';\nimport { Glob } from 'bun';"),
      ...importsOf('jobs/a.ts', "import { b } from './b';"),
      ...importsOf('jobs/b.ts', "import { c } from './c';"),
      ...importsOf('jobs/c.ts', "import type { A } from './a';"),
      ...importsOf('jobs/d.ts', "import { a } from './a';"),
    ];
    expect(circlesOf(imports).sort()).toEqual([
      ['graphql/context.ts', 'graphql/response-cache.ts'],
      ['jobs/a.ts', 'jobs/b.ts', 'jobs/c.ts'],
    ]);
  });

  test('each rule catches what it is there for', () => {
    const offenders: [file: string, text: string][] = [
      ['graphql/response-cache.ts', "import type { App } from '../app';"],
      ['graphql/context.ts', "import type { AuthUser } from '../users/service';"],
      ['graphql/loader.ts', "import type { JobsService } from '../jobs/service';"],
      ['analytics/compat.ts', "import type { Services } from '../app';"],
      ['rest.ts', "import type { App } from './app';"],
      ['users/service.ts', "import { buildSchema } from '../schema';"],
      ['jobs/runner.ts', "import type { AnalyticsService } from '../analytics/service';"],
      ['compute/pi.ts', "import { readFileSync } from 'node:fs';"],
      ['compute/forecast.ts', "import { badInput } from '../errors';"],
      ['users/service.ts', "import type { GraphQLContext } from '../graphql/context';"],
      ['analytics/compat.ts', "import { parseId } from '../graphql/ids';"],
      ['events.ts', "import type { Job } from './jobs/model';"],
      ['pool/pool.ts', "import { calcJob } from '../calculator/job';"],
      ['relay/graphql.ts', "import type { Db } from '../db/client';"],
      ['queues/graphql.ts', "import type { WorkerPool } from '../pool/pool';"],
      ['kinds/define.ts', "import type { JobKinds } from '../jobs/kind';"],
    ];
    for (const [file, text] of offenders) expect({ file, problems: violationsOf(importsOf(file, text)).length }).toEqual({ file, problems: 1 });
    // And what is allowed stays allowed.
    expect(violationsOf(importsOf('jobs/graphql.ts', "import { builder } from '../graphql/builder';"))).toEqual([]);
    expect(violationsOf(importsOf('app.ts', "import { analyticsJob } from './analytics/job';"))).toEqual([]);
    expect(violationsOf(importsOf('schema.ts', "import { builder } from './graphql/builder';\nimport './jobs/graphql';"))).toEqual([]);
    expect(violationsOf(importsOf('http/routes.ts', "import type { App } from '../app';\nimport { buildSchema } from '../schema';"))).toEqual([]);
    expect(violationsOf(importsOf('quotes/compat.ts', "import type { Services } from '../services';"))).toEqual([]);
  });

  test('the scan reads the real tree: the composition root imports every domain and the job engine', () => {
    const fromApp = new Set(allImports().filter((entry) => entry.file === 'app.ts').map((entry) => folderOf(entry.target ?? '')));
    expect([...DOMAINS, 'jobs'].filter((folder) => !fromApp.has(folder))).toEqual([]);
  });

  test('the Drizzle plugin alone reads the database off the GraphQL context', () => {
    const readers = sourceFiles().filter((file) => /\bplannerDatabase\b/.test(readFileSync(join(SRC, file), 'utf8')));
    expect(readers).toEqual(['graphql/builder.ts', 'graphql/context.ts']);
  });
});

// Issue 21 item 3: code shared by both databases must not be handed one dialect's Drizzle typed as the other's. The
// job store runs each dialect on its own type (src/jobs/store/); the other domains run statements with both sides
// (src/db/statements.ts, `<domain>/sql.ts`) and reach a dialect's Drizzle only through `database.dialect`.
// A database type by name, or an object type built from a schema module's tables (`{ t: typeof import('…/schema').t }`).
const DIALECT_TYPE = /\bas\s+(?:unknown\s+as\s+)?(?:(?:Db|Tables|SqliteDb|PgDb|PgTables|typeof\s+(?:pgSchema|schema))\b|\{[^}]*\bimport\(\s*['"][^'"]*schema['"]\s*\))/g;
/** Each cast to a database type (`as unknown as Db`, `as PgTables`, …) in a file: `line: cast`. */
const dialectCastsOf = (text: string) =>
  withoutComments(text)
    .split('\n')
    .flatMap((line, index) => [...line.matchAll(DIALECT_TYPE)].map((match) => `${index + 1}: ${match[0].replace(/\s+/g, ' ')}`));
/** Zero-argument `.get()`, `.all()`, `.run()`, `.values()` on a Drizzle builder: SQLite's alone, they fail on PostgreSQL. */
const SQLITE_ONLY_RUN = /\.\s*(?:get|all|run)\(\s*\)/;

describe('database types', () => {
  test('no cast between the dialects', () => {
    const casts = sourceFiles().flatMap((file) => dialectCastsOf(readFileSync(join(SRC, file), 'utf8')).map((cast) => `${file}:${cast.replace(/^\d+: /, '')}`));
    expect(casts).toEqual([]);
  });

  test('no code runs a builder the SQLite-only way (.get(), .all(), .run()) but the SQLite connection itself', () => {
    const uses = sourceFiles().flatMap((file) =>
      withoutComments(readFileSync(join(SRC, file), 'utf8'))
        .split('\n')
        .flatMap((line, index) => (SQLITE_ONLY_RUN.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [])),
    );
    // The one: SQLite's ping, on bun:sqlite's own connection (not a Drizzle builder).
    expect(uses).toEqual([expect.stringMatching(/^db\/client\.ts:\d+: opened\.query\('SELECT 1'\)\.get\(\);$/)]);
  });

  test('each rule catches what it is there for', () => {
    expect(dialectCastsOf('const db = pg as unknown as Db;\nconst t = pgSchema as unknown as Tables;\nconst s = x as SqliteDb;')).toEqual([
      '1: as unknown as Db',
      '2: as unknown as Tables',
      '3: as SqliteDb',
    ]);
    expect(dialectCastsOf("const { a } = database.tables as unknown as { a: typeof import('../db/schema').a };")).toEqual([
      "1: as unknown as { a: typeof import('../db/schema')",
    ]);
    expect(dialectCastsOf("const t = database.tables as typeof pgSchema;\nconst u = v as unknown as typeof schema;")).toEqual(['1: as typeof pgSchema', '2: as unknown as typeof schema']);
    expect(dialectCastsOf('// pg as unknown as Db\nconst n = x as unknown as Dbx;')).toEqual([]);
    for (const line of ['await db.select().from(t).get();', 'db.insert(t).values(v).run()', 'db.select().from(t).all( )']) expect(line).toMatch(SQLITE_ONLY_RUN);
    for (const line of ['map.get(key)', 'statement.get({ id })', 'await db.select().from(t)']) expect(line).not.toMatch(SQLITE_ONLY_RUN);
  });
});
