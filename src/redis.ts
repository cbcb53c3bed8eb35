// The one connection to Redis (REDIS_URL) that instances share events, session invalidations, rate and login
// counters and cached answers through. Two clients: a subscriber (a subscribed Redis connection can do nothing
// else) and one for commands. Commands never wait for a lost connection (no offline queue): each caller decides
// what an outage means for it (see docs/scaling.md).
import { RedisClient } from 'bun';
import type { Logger } from 'pino';

/** How long a lost connection waits between attempts once Bun's own reconnection gave up. */
const RECONNECT_MS = 1000;

/** How long a start waits for Redis before giving up. */
const START_TIMEOUT_MS = 5000;

/** Redis could not be reached at start: the operator's to fix (or the orchestrator's to retry), not a crash. */
export class RedisUnreachableError extends Error {}

export type RedisMessageHandler = (message: string) => void;

export class RedisLink {
  /** Tags what this process publishes, so it can skip its own messages when Redis echoes them back. */
  readonly instanceId = crypto.randomUUID();
  private readonly commands: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly handlers = new Map<string, RedisMessageHandler>();
  private readonly reconnectListeners = new Set<() => void>();
  private everConnected = false;
  // The subscriber is back *and* subscribed again: only then is no message being missed.
  private listening = false;
  private closed = false;
  private lastOutageLogAt = 0;

  constructor(
    private readonly url: string,
    /** Every key and channel starts with it: instances of one deployment share it, tests take their own. */
    readonly prefix: string,
    private readonly log: Logger,
  ) {
    const options = { enableOfflineQueue: false, connectionTimeout: 2000, maxRetries: 10 };
    this.commands = new RedisClient(url, options);
    this.subscriber = new RedisClient(url, options);
    for (const client of [this.commands, this.subscriber]) {
      client.onclose = () => {
        if (client === this.subscriber) this.listening = false;
        this.reconnectLater(client);
      };
    }
    this.subscriber.onconnect = () => void this.resubscribe();
  }

  /** Connects both clients; a start-up without Redis fails here rather than running without its guarantees. */
  async connect(): Promise<void> {
    const timeout = Promise.withResolvers<never>();
    const timer = setTimeout(() => timeout.reject(new Error(`no answer within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    try {
      await Promise.race([Promise.all([this.commands.connect(), this.subscriber.connect()]), timeout.promise]);
    } catch (error) {
      throw new RedisUnreachableError(`cannot reach Redis at ${redactedUrl(this.url)} (REDIS_URL): ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    for (const [channel, handler] of this.handlers) await this.subscriber.subscribe(channel, handler);
    this.everConnected = true;
    this.listening = true;
  }

  /** Both connections up: commands can run and no message from another instance is being missed. */
  get up(): boolean {
    return this.commands.connected && this.subscriber.connected && this.listening;
  }

  key(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** Runs a command; rejects at once while the connection is down. */
  send(command: string, args: string[]): Promise<unknown> {
    return this.commands.send(command, args);
  }

  /** Runs a Lua script by its SHA, loading it first when Redis does not know it (a fresh or restarted server). */
  async script(script: RedisScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    const argv = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.commands.send('EVALSHA', [script.sha, ...argv]);
    } catch (error) {
      if (!String((error as Error).message).includes('NOSCRIPT')) throw error;
      return this.commands.send('EVAL', [script.source, ...argv]);
    }
  }

  publish(channel: string, message: string): void {
    this.commands.publish(this.key(channel), message).catch((error) => this.outage('publish', error));
  }

  /** One handler per channel, kept across reconnections (Bun forgets subscriptions when a connection drops). */
  async subscribe(channel: string, handler: RedisMessageHandler): Promise<void> {
    // Anything may be published on a channel (another tool, another version on the same prefix): a message its
    // handler cannot take is dropped with a log line, never thrown into Bun's client, where it would end the process.
    const guarded: RedisMessageHandler = (message) => {
      try {
        handler(message);
      } catch (error) {
        this.log.warn({ channel, err: (error as Error)?.message ?? String(error), length: message.length }, 'a Redis message could not be handled; dropped');
      }
    };
    this.handlers.set(this.key(channel), guarded);
    // Before connect(), connect() subscribes it.
    if (this.everConnected && this.subscriber.connected) await this.subscriber.subscribe(this.key(channel), guarded);
  }

  /**
   * Called after a lost connection came back: what other instances published meanwhile was missed (their session
   * invalidations, say), so whatever was kept on the strength of those messages must be dropped.
   */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.add(listener);
  }

  /** For /ready: whether both connections are up (never the URL: it may carry a password). */
  status() {
    return { status: this.up ? 'up' : 'down', prefix: this.prefix, instanceId: this.instanceId };
  }

  /**
   * Logs an outage at most once every 10 s, so a Redis that is down does not turn every request into a log line.
   * `what` names the rule that went on without Redis.
   */
  outage(what: string, error: unknown): void {
    const now = Date.now();
    if (now - this.lastOutageLogAt < 10_000) return;
    this.lastOutageLogAt = now;
    this.log.warn({ what, err: (error as Error)?.message ?? String(error) }, 'redis unavailable');
  }

  close(): void {
    this.closed = true;
    this.commands.close();
    this.subscriber.close();
  }

  private async resubscribe(): Promise<void> {
    if (!this.everConnected) return;
    this.listening = false;
    try {
      for (const [channel, handler] of this.handlers) await this.subscriber.subscribe(channel, handler);
      this.listening = true;
      this.log.info('redis connection restored');
      for (const listener of this.reconnectListeners) listener();
    } catch (error) {
      this.outage('resubscribe', error);
    }
  }

  private reconnectLater(client: RedisClient): void {
    if (this.closed) return;
    this.outage('connection', new Error(`connection to ${redactedUrl(this.url)} closed`));
    setTimeout(() => {
      if (this.closed || client.connected) return;
      client.connect().catch(() => this.reconnectLater(client));
    }, RECONNECT_MS).unref();
  }
}

/** A Lua script with its SHA1, which EVALSHA names it by. */
export interface RedisScript {
  source: string;
  sha: string;
}

export function redisScript(source: string): RedisScript {
  return { source, sha: new Bun.CryptoHasher('sha1').update(source).digest('hex') };
}

function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return 'REDIS_URL';
  }
}
