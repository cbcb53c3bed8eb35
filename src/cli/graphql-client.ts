// What the command-line tools (calc, dishes) share: one GraphQL request over HTTP, getting a token, reading the
// command line and exiting as promised (--help; 2 and one line for a usage error; 1 and one line for a failure).
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export class CliError extends Error {}
/** The command line itself is wrong (exit code 2, one line). */
export class UsageError extends CliError {}

/** POSTs a GraphQL request (JSON, or a multipart FormData body) and returns `data`; GraphQL errors become a CliError. */
export async function graphqlRequest<T = any>(url: string, token: string | undefined, body: { query: string; variables?: unknown } | FormData): Promise<T> {
  const json = !(body instanceof FormData);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        ...(json ? { 'content-type': 'application/json' } : {}),
        // Yoga's CSRF prevention asks multipart requests to say they are not a plain form post.
        'x-graphql-yoga-csrf': '1',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: json ? JSON.stringify(body) : body,
    });
  } catch (error) {
    throw new CliError(`cannot reach ${url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  let payload: { data?: T; errors?: { message: string }[] };
  try {
    payload = JSON.parse(text);
  } catch {
    throw new CliError(`${url} answered ${response.status}: ${text.slice(0, 200)}`);
  }
  if (payload.errors?.length) throw new CliError(messagesOf(payload.errors));
  return payload.data as T;
}

export interface Credentials {
  token?: string;
  username?: string;
  password?: string;
}

/** The token to use: the one given, or one from logging in with a username and password. */
export async function tokenFor(url: string, credentials: Credentials): Promise<string> {
  if (credentials.token) return credentials.token;
  if (credentials.username) {
    const data = await graphqlRequest<{ login: { token: string } }>(url, undefined, {
      query: 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }',
      variables: { u: credentials.username, p: credentials.password ?? '' },
    });
    return data.login.token;
  }
  throw new CliError('no token: pass --token, set JOBGRAPH_TOKEN, or give --username and --password');
}

/** The API's URL: --url, JOBGRAPH_URL, or the local server on PORT. */
export const defaultUrl = () => process.env.JOBGRAPH_URL ?? `http://127.0.0.1:${process.env.PORT ?? 4000}/graphql`;

/** The GraphQL endpoint from what a person types: the server's base URL (`http://host:4000`) or its `/graphql` URL. */
export function graphqlEndpoint(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be an http(s) URL, got "${raw}"`);
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/graphql') ? path : `${path}/graphql`;
  return url.href;
}

interface SubscriptionHandlers {
  next(data: any): void;
  fail(error: Error): void;
  complete(): void;
}

/**
 * One graphql-transport-ws connection on Bun's own WebSocket (no client library to load at start-up). It is opened
 * at once, so its handshake overlaps whatever the caller does meanwhile (an upload).
 */
export class SubscriptionSocket {
  private readonly socket: WebSocket;
  private readonly handlers = new Map<string, SubscriptionHandlers>();
  private readonly ready: Promise<void>;
  private nextId = 1;

  constructor(url: string, token: string) {
    this.socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    this.ready = new Promise<void>((resolve, reject) => {
      this.socket.onopen = () => this.send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
      this.socket.onmessage = (event) => {
        const message = JSON.parse(String(event.data));
        const handlers = this.handlers.get(message.id);
        if (message.type === 'connection_ack') resolve();
        else if (message.type === 'ping') this.send({ type: 'pong' });
        else if (message.type === 'next') handlers?.next(message.payload);
        else if (message.type === 'error') handlers?.fail(new CliError(messagesOf(message.payload)));
        else if (message.type === 'complete') handlers?.complete();
      };
      this.socket.onclose = (event) => {
        const error = new CliError(
          event.code === 1006 ? `cannot reach ${url} (WebSocket)` : `${url} closed the subscription (${event.code}${event.reason ? ` ${event.reason}` : ''})`,
        );
        reject(error);
        for (const handlers of this.handlers.values()) handlers.fail(error);
      };
    });
    // Not everyone waits for the handshake (an upload may fail first): its failure is reported where it is awaited.
    this.ready.catch(() => {});
  }

  /** Runs a subscription; `next` gets each event's data; resolves when the server completes it. */
  async subscribe<T>(query: string, variables: Record<string, unknown>, next: (data: T) => void): Promise<void> {
    await this.ready;
    const id = String(this.nextId++);
    await new Promise<void>((resolve, reject) => {
      const done = (settle: () => void) => {
        this.handlers.delete(id);
        settle();
      };
      this.handlers.set(id, {
        next: (payload) => {
          if (payload.errors?.length) return done(() => reject(new CliError(messagesOf(payload.errors))));
          try {
            next(payload.data as T);
          } catch (error) {
            done(() => reject(error));
          }
        },
        fail: (error) => done(() => reject(error)),
        complete: () => done(resolve),
      });
      this.send({ id, type: 'subscribe', payload: { query, variables } });
    });
  }

  close(): void {
    this.socket.onclose = null;
    this.socket.close(1000);
  }

  private send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }
}

const messagesOf = (errors: { message: string }[] | unknown) =>
  Array.isArray(errors) ? errors.map((error: { message: string }) => error.message).join('; ') : JSON.stringify(errors);

/**
 * Joins each `--option value` of a string option into `--option=value`, so a value that starts with '-' (a token is
 * base64url: one in 64 starts with '-') is taken as the value rather than refused by parseArgs as ambiguous.
 */
export function joinOptionValues(args: string[], stringOptions: Record<string, { type: string; short?: string }>): string[] {
  const takesValue = new Set(
    Object.entries(stringOptions)
      .filter(([, option]) => option.type === 'string')
      .flatMap(([name, option]) => [`--${name}`, ...(option.short ? [`-${option.short}`] : [])]),
  );
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (takesValue.has(arg) && i + 1 < args.length) joined.push(`${arg.startsWith('--') ? arg : `--${longName(stringOptions, arg)}`}=${args[++i]}`);
    else joined.push(arg);
  }
  return joined;
}

const longName = (options: Record<string, { short?: string }>, short: string) =>
  Object.entries(options).find(([, option]) => `-${option.short}` === short)![0];

/** The options every command-line tool takes: where jobgraph is, and who is asking. */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A tool's command line, parsed; a mistake is a UsageError with Node's first sentence (the rest is advice about `--`). */
export function parseCommandLine<T extends ParseArgsOptionsConfig>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: joinOptionValues(args, options as Record<string, { type: string; short?: string }>), options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('. ')[0]!);
  }
}

/**
 * Runs a tool's `main` and exits: 0 when it is done, 2 with one line (and the usage) for a UsageError, 1 with one line
 * for any other failure — an unreachable server, a refused request — never a stack trace.
 */
export async function runTool(name: string, usage: string, main: () => Promise<void>): Promise<never> {
  try {
    await main();
    // Nothing is left to wait for (keep-alive sockets, a WebSocket's closing handshake).
    process.exit(0);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof UsageError) {
      console.error(`${name}: ${message} (${usage})`);
      process.exit(2);
    }
    console.error(`${name}: ${message.split('\n')[0]}`);
    process.exit(1);
  }
}
