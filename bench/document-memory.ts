// Issue 20 item 2: how much memory 1,000 distinct valid ~1 MB documents, sent anonymously over HTTP, leave behind in
// a server — the parse cache, the fast path's known documents and the response cache's bookkeeping each remembered
// texts by count, not bytes. Runs a real jobgraph in a child process and reads its RSS before and after.
//   bun bench/document-memory.ts [documents=1000] [bytes=1000000]
import { readFileSync } from 'node:fs';
import { startBenchServer } from './server';

if (process.argv[2] === '--serve') {
  const bench = await startBenchServer({ ANONYMOUS_ACCESS: 'analytics' });
  console.log(`URL ${bench.server.url}`);
  // Stays up until the parent ends it.
  await new Promise(() => {});
}

const documents = Number(process.argv[2] ?? 1000);
const bytes = Number(process.argv[3] ?? 1_000_000);
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

const child = Bun.spawn(['bun', import.meta.path, '--serve'], { stdout: 'pipe', stderr: 'inherit' });
const reader = child.stdout.getReader();
let output = '';
while (!/URL (\S+)/.test(output)) {
  const { value, done } = await reader.read();
  if (done) throw new Error(`the server ended before it listened: ${output}`);
  output += new TextDecoder().decode(value);
}
const url = /URL (\S+)/.exec(output)![1]!;

/** A valid document of about `bytes` characters, distinct for each `i`: an analytics question padded in a comment. */
const documentOf = (i: number) => {
  const head = `query Q${i + 10} { analytics { questions { text } } }\n# `;
  return head + 'x'.repeat(Math.max(0, bytes - head.length));
};

const send = async (i: number) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: documentOf(i) }) });
  const body = (await response.json()) as { errors?: unknown };
  if (response.status !== 200 || body.errors) throw new Error(`document ${i}: HTTP ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
};

try {
  // A few asks first, so the RSS before counts a server that has answered (code paths loaded, pools started).
  for (let i = 0; i < 5; i++) await send(-1 - i);
  await Bun.sleep(500);
  const before = rssMb(child.pid);
  const started = performance.now();
  const CONCURRENCY = 4;
  for (let at = 0; at < documents; at += CONCURRENCY) {
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, documents - at) }, (_, k) => send(at + k)));
  }
  const seconds = (performance.now() - started) / 1000;
  await Bun.sleep(2000);
  const after = rssMb(child.pid);
  console.log(
    `${documents} distinct documents of ${bytes} bytes in ${seconds.toFixed(1)} s: server RSS ${before.toFixed(0)} MB before, ${after.toFixed(0)} MB after (+${(after - before).toFixed(0)} MB)`,
  );
} finally {
  child.kill();
  await child.exited;
}
