// The embedded quote server starts with the first quote asked for (src/quotes/embedded.ts): once, however many ask at
// once; and never once jobgraph is stopping, even when the ask races the stop.
import { describe, expect, test } from 'bun:test';
import { fetchTcpQuote } from '../src/quotes/client';
import { EmbeddedQuoteServer } from '../src/quotes/embedded';
import { createLogger } from '../src/logger';
import { isRunning, waitForExit } from './helpers/process';

const log = createLogger({ level: 'silent' });
const childPid = (server: EmbeddedQuoteServer) => (server as unknown as { child?: { pid: number } }).child?.pid;

describe('the embedded quote server, started when first asked', () => {
  test('idle until asked; asks at once share one start; it then serves quotes', async () => {
    const server = new EmbeddedQuoteServer(log, 0);
    try {
      expect(server.status).toBe('idle');
      expect(server.healthy).toBe(true);
      await Promise.all([server.ensureStarted(), server.ensureStarted(), server.ensureStarted()]);
      expect(server.status).toBe('up');
      const pid = childPid(server)!;
      await server.ensureStarted();
      expect(childPid(server)).toBe(pid);
      const quote = await fetchTcpQuote(server.address!, { timeoutMs: 2000, udpRetries: 0 });
      expect(quote.raw).toMatch(/^T\d{3}: /);
    } finally {
      await server.stop();
    }
  }, 20_000);

  test('after stop, an ask starts nothing', async () => {
    const server = new EmbeddedQuoteServer(log, 0);
    await server.stop();
    await server.ensureStarted();
    expect(server.status).toBe('stopped');
    expect(childPid(server)).toBeUndefined();
  });

  test('a stop while the first start is under way leaves no child and no address', async () => {
    const server = new EmbeddedQuoteServer(log, 0);
    const starting = server.ensureStarted();
    const pid = childPid(server)!;
    expect(pid).toBeNumber();
    await server.stop();
    await starting;
    expect(server.status).toBe('stopped');
    expect(server.address).toBeNull();
    expect(await waitForExit(pid, 5000)).toBe(true);
    expect(isRunning(pid)).toBe(false);
  }, 20_000);
});
