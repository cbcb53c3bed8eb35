import type { Subprocess } from 'bun';
import type { Logger } from 'pino';
import type { QuoteAddress } from './client';

const ENTRY = new URL('../../quote-server/index.ts', import.meta.url).pathname;
const START_TIMEOUT_MS = 10_000;
const RESTART_DELAY_MS = 1000;

/** `idle`: not started yet — nobody has asked for a quote since jobgraph started. */
export type EmbeddedStatus = 'idle' | 'starting' | 'up' | 'down' | 'stopped';

/**
 * The quote server jobgraph runs itself when QUOTE_SERVER is unset: a child process on a free port of 127.0.0.1,
 * started by the first quote asked for (a Bun process holds ~35 MB, idle until then), restarted (on the same port) if
 * it dies, stopped with jobgraph. It also exits by itself when jobgraph goes without
 * stopping it (kill -9, a crash): it watches the stdin pipe it gets from us (see quote-server/index.ts).
 */
export class EmbeddedQuoteServer {
  status: EmbeddedStatus = 'idle';
  address: QuoteAddress | null = null;
  private child: Subprocess<'pipe', 'pipe', 'inherit'> | undefined;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private firstStart: Promise<void> | undefined;
  /** Set by stop(): a quote asked for during a shutdown starts nothing. */
  private stopRequested = false;

  constructor(
    private readonly log: Logger,
    private readonly delayMs: number,
  ) {}

  /** Starts the child on the first call; later calls wait for that start. A failed first start is tried again by the next call. */
  ensureStarted(): Promise<void> {
    if (this.status !== 'idle' || this.stopRequested) return this.firstStart ?? Promise.resolve();
    return (this.firstStart = this.start().then(
      () => {},
      (error) => {
        this.log.error({ err: error }, 'the quote server did not start');
        this.status = this.stopRequested ? 'stopped' : 'idle';
      },
    ));
  }

  /** Whether it serves, or will when first asked: a restart under way (after a crash) or a dead child is not healthy. */
  get healthy(): boolean {
    return this.status === 'up' || this.status === 'idle' || (this.status === 'starting' && this.address === null);
  }

  async start(port = 0): Promise<QuoteAddress> {
    if (this.stopRequested) throw new Error('the quote server was stopped');
    this.status = 'starting';
    const child = Bun.spawn(['bun', ENTRY, '127.0.0.1', String(port)], {
      env: { ...process.env, QUOTE_DELAY_MS: String(this.delayMs), QUOTE_SERVER_PARENT_PID: String(process.pid) },
      // Never written to: the child only waits for it to close, which happens when this process ends.
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'inherit',
    });
    this.child = child;
    const address = await this.waitForListening(child);
    // Stopped while it started: stop() has killed it.
    if (this.stopRequested) throw new Error('the quote server was stopped');
    this.address = address;
    this.status = 'up';
    this.log.info({ address: `${address.host}:${address.port}`, pid: child.pid }, 'quote server started');
    void child.exited.then((code) => {
      if (this.child !== child || this.status === 'stopped') return;
      this.status = 'down';
      this.log.error({ code }, 'the quote server exited; restarting it');
      this.restartTimer = setTimeout(() => {
        this.start(address.port).catch((error) => this.log.error({ err: error }, 'the quote server did not restart'));
      }, RESTART_DELAY_MS);
    });
    return address;
  }

  /** Reads the child's JSON log lines until "listening" (which carries the port); forwards the rest at debug. */
  private async waitForListening(child: Subprocess<'pipe', 'pipe', 'inherit'>): Promise<QuoteAddress> {
    const reader = child.stdout.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const deadline = setTimeout(() => child.kill(), START_TIMEOUT_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the quote server exited before listening (code ${await child.exited})`);
        buffer += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          const entry = JSON.parse(line) as { msg: string; host: string; port: number };
          if (entry.msg === 'quote server listening') {
            clearTimeout(deadline);
            void this.forwardLogs(reader, decoder, buffer);
            return { host: entry.host, port: entry.port };
          }
        }
      }
    } catch (error) {
      clearTimeout(deadline);
      child.kill();
      this.status = 'down';
      throw error;
    }
  }

  private async forwardLogs(reader: ReadableStreamDefaultReader<Uint8Array>, decoder: TextDecoder, buffer: string): Promise<void> {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const line of lines) this.log.debug({ quoteServer: line }, 'quote server');
      }
    } catch {
      // The child went away; its exit handler reports it.
    }
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    this.status = 'stopped';
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([child.exited, Bun.sleep(2000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}
