import { unavailable } from '../errors';

export const QUOTE_PROTOCOLS = ['TCP', 'UDP'] as const;
export type QuoteProtocol = (typeof QUOTE_PROTOCOLS)[number];

export interface QuoteAddress {
  host: string;
  port: number;
}

export interface Quote {
  protocol: QuoteProtocol;
  index: number;
  text: string;
  /** The message exactly as received, e.g. `T007: “Talk is cheap. Show me the code.” – Linus`. */
  raw: string;
  receivedAt: Date;
}

export interface QuoteClientOptions {
  /** Per attempt; a TCP request gets this long to be answered, a UDP datagram this long before a retry. */
  timeoutMs: number;
  /** UDP only: further attempts after the first datagram goes unanswered. */
  udpRetries: number;
}

const MESSAGE = /^([TU])(\d{3,}): ([\s\S]*)$/;
const MAX_MESSAGE_BYTES = 64 * 1024;

export const formatAddress = (address: QuoteAddress) => `${address.host}:${address.port}`;

export function parseAddress(text: string): QuoteAddress {
  const match = /^(.+):(\d+)$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65535) throw new Error(`"${text}" is not host:port`);
  return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

export function parseQuote(raw: string, expected: QuoteProtocol): Quote {
  const match = MESSAGE.exec(raw);
  if (!match || match[1] !== expected[0]) throw unavailable(`the quote server sent a malformed ${expected} message: ${JSON.stringify(raw.slice(0, 80))}`);
  return { protocol: expected, index: Number(match[2]), text: match[3]!, raw, receivedAt: new Date() };
}

/** One quote over TCP: connect, send nothing, read to the end of the stream. */
export function fetchTcpQuote(address: QuoteAddress, options: QuoteClientOptions): Promise<Quote> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) return reject(error);
      resolve(parseQuote(new TextDecoder().decode(Buffer.concat(chunks)), 'TCP'));
    };
    const timer = setTimeout(() => {
      socket?.terminate();
      finish(unavailable(`the quote server at ${formatAddress(address)} did not answer over TCP within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    let socket: Awaited<ReturnType<typeof Bun.connect>> | undefined;
    Bun.connect({
      hostname: address.host,
      port: address.port,
      socket: {
        data(_socket, data) {
          size += data.byteLength;
          if (size > MAX_MESSAGE_BYTES) {
            _socket.terminate();
            return finish(unavailable(`the quote server at ${formatAddress(address)} sent more than ${MAX_MESSAGE_BYTES} bytes`));
          }
          chunks.push(new Uint8Array(data));
        },
        close: () => finish(),
        error: (_socket, error) => finish(unavailable(`quote server ${formatAddress(address)} over TCP: ${error.message}`)),
        connectError: (_socket, error) => finish(unavailable(`cannot reach the quote server at ${formatAddress(address)} over TCP (${error.message})`)),
      },
    }).then(
      (opened) => {
        socket = opened;
        if (settled) opened.terminate();
      },
      (error: Error) => finish(unavailable(`cannot reach the quote server at ${formatAddress(address)} over TCP (${error.message})`)),
    );
  });
}

/** One quote over UDP: an empty datagram, then wait; unanswered datagrams are resent up to `udpRetries` times. */
export async function fetchUdpQuote(address: QuoteAddress, options: QuoteClientOptions): Promise<Quote> {
  let answer: (raw: string | Error) => void = () => {};
  const socket = await Bun.udpSocket({
    hostname: address.host.includes(':') ? '::' : '0.0.0.0',
    socket: {
      data(_socket, data, port) {
        if (port === address.port) answer(new TextDecoder().decode(data));
      },
      // An ICMP "port unreachable" comes back as ECONNREFUSED: nobody listens there.
      error(_socket, error) {
        answer(error);
      },
    },
  });
  let refused: Error | undefined;
  try {
    for (let attempt = 0; attempt <= options.udpRetries; attempt++) {
      const raw = await new Promise<string | Error | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), options.timeoutMs);
        answer = (message) => {
          clearTimeout(timer);
          resolve(message);
        };
        socket.send(new Uint8Array(0), address.port, address.host);
      });
      if (typeof raw === 'string') return parseQuote(raw, 'UDP');
      if (raw instanceof Error) refused = raw;
    }
    throw unavailable(
      refused
        ? `cannot reach the quote server at ${formatAddress(address)} over UDP (${refused.message})`
        : `the quote server at ${formatAddress(address)} did not answer over UDP (${options.udpRetries + 1} datagrams, ${options.timeoutMs} ms each)`,
    );
  } finally {
    socket.close();
  }
}

/** `concurrency` quotes fetched in parallel (so 8 take one latency, not eight). */
export async function fetchQuotes(address: QuoteAddress, protocol: QuoteProtocol, concurrency: number, options: QuoteClientOptions): Promise<Quote[]> {
  const fetchOne = protocol === 'TCP' ? fetchTcpQuote : fetchUdpQuote;
  return Promise.all(Array.from({ length: concurrency }, () => fetchOne(address, options)));
}
