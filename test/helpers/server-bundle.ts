// The jobgraph the process tests spawn: src/main.ts bundled once (`Bun.build`) as CommonJS with its bytecode beside it
// (main.js.jsc, which `bun main.js` loads instead of parsing), so each of the suite's many spawned servers neither
// resolves ~1,900 modules (~0.25 s of CPU each) nor parses and compiles the bundle's 5 MB (~0.25 s more): a spawned
// server costs ~0.45 s of CPU to listening instead of ~0.7 s. (A `compile`d executable starts as fast, but resolves no
// package from disk for a worker it loads from source.) Cached in the temporary folder by a hash of what goes into
// it, so every test file and worker of a run, and every later run, shares one build.
// `import.meta.url` / `.dir` are pinned to each source file's own path, so the bundle finds the migrations, the
// dashboard, the quote server and its worker entries (which run from source) wherever it lies.
// JOBGRAPH_TEST_FROM_SOURCE=1 spawns `bun src/main.ts` everywhere; test/processes.test.ts always starts one from
// source, and test/cli.test.ts checks src/main.ts's arguments from source.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashFiles } from './file-hash';

const ROOT = new URL('../..', import.meta.url).pathname;
/** What the bundle is built from: a change to any of these builds a new one. */
const INPUTS = ['src', 'quote-server', 'package.json', 'bun.lock', 'tsconfig.json'];

/** Replaces `import.meta.url`, `.dir` and `.main` in the repository's sources with what they are unbundled. */
const pinImportMeta: Bun.BunPlugin = {
  name: 'pin-import-meta',
  setup(build) {
    build.onLoad({ filter: /\/(src|quote-server)\/.*\.ts$/ }, async ({ path }) => {
      const text = (await Bun.file(path).text())
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(path).href))
        .replaceAll('import.meta.dir', JSON.stringify(dirname(path)))
        .replaceAll('import.meta.main', 'false');
      return { contents: text, loader: 'ts' };
    });
  },
};

async function buildBundle(): Promise<string> {
  // The checkout's path is part of the key: the bundle reads the migrations, the dashboard and the worker entries
  // from the checkout that built it, and two checkouts with the same sources may hold different migrations.
  const folder = join(tmpdir(), `jobgraph-test-server-${hashFiles(ROOT, INPUTS, `${Bun.version} cjs+bytecode ${ROOT}`)}`);
  const entry = join(folder, 'main.js');
  if (existsSync(entry)) {
    // Marked as in use, so no suite in another checkout counts it stale (removeStaleBuilds).
    utimesSync(folder, new Date(), new Date());
    return entry;
  }
  // Built beside, then renamed into place: the test workers of a run may build at the same time.
  const building = `${folder}.${process.pid}.${Date.now()}`;
  mkdirSync(building, { recursive: true });
  try {
    const result = await Bun.build({ entrypoints: [join(ROOT, 'src/main.ts')], target: 'bun', format: 'cjs', bytecode: true, outdir: building, plugins: [pinImportMeta] });
    if (!result.success) throw new Error(`bundling src/main.ts failed:\n${result.logs.join('\n')}`);
    try {
      renameSync(building, folder);
    } catch {
      if (!existsSync(entry)) throw new Error(`could not move the server bundle into ${folder}`);
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  removeStaleBuilds(folder);
  return entry;
}

/** Each change to the sources builds a new bundle (~13 MB): those no suite has used for a day go. */
function removeStaleBuilds(keep: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of readdirSync(tmpdir())) {
    const path = join(tmpdir(), name);
    if (!name.startsWith('jobgraph-test-server-') || path === keep) continue;
    try {
      if (statSync(path).mtimeMs < dayAgo) rmSync(path, { recursive: true, force: true });
    } catch {
      // Removed meanwhile by another test process.
    }
  }
}

/** The command that starts a jobgraph server from the bundle (built on first import), or `bun src/main.ts`. */
export const SERVER_COMMAND = process.env.JOBGRAPH_TEST_FROM_SOURCE === '1' ? ['bun', 'src/main.ts'] : ['bun', await buildBundle()];
/** The unbundled server, as a person starts it. */
export const SOURCE_SERVER_COMMAND = ['bun', 'src/main.ts'];
