// The jobgraph the process tests spawn: src/main.ts bundled once (`Bun.build`), so each of the suite's many spawned
// servers loads one file instead of ~1,900 modules (~0.25 s of CPU each). Cached in the temporary folder by a hash of
// what goes into it, so every test file and worker of a run, and every later run, shares one build.
// `import.meta.url` / `.dir` are pinned to each source file's own path, so the bundle finds the migrations, the
// dashboard, the quote server and its worker entries (which run from source) wherever it lies.
// JOBGRAPH_TEST_FROM_SOURCE=1 spawns `bun src/main.ts` everywhere; test/processes.test.ts always starts one from source.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
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
  const folder = join(tmpdir(), `jobgraph-test-server-${hashFiles(ROOT, INPUTS, Bun.version)}`);
  const entry = join(folder, 'main.js');
  if (existsSync(entry)) return entry;
  // Built beside, then renamed into place: the test workers of a run may build at the same time.
  const building = `${folder}.${process.pid}.${Date.now()}`;
  mkdirSync(building, { recursive: true });
  try {
    const result = await Bun.build({ entrypoints: [join(ROOT, 'src/main.ts')], target: 'bun', outdir: building, plugins: [pinImportMeta] });
    if (!result.success) throw new Error(`bundling src/main.ts failed:\n${result.logs.join('\n')}`);
    try {
      renameSync(building, folder);
    } catch {
      if (!existsSync(entry)) throw new Error(`could not move the server bundle into ${folder}`);
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return entry;
}

/** The command that starts a jobgraph server from the bundle (built on first import), or `bun src/main.ts`. */
export const SERVER_COMMAND = process.env.JOBGRAPH_TEST_FROM_SOURCE === '1' ? ['bun', 'src/main.ts'] : ['bun', await buildBundle()];
/** The unbundled server, as a person starts it. */
export const SOURCE_SERVER_COMMAND = ['bun', 'src/main.ts'];
