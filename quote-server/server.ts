// The quote server of the source system: TCP and UDP on one port. TCP: the client connects and sends nothing;
// after the simulated latency the server writes one message and closes (end of message = end of stream). UDP: any
// datagram (an empty one is fine) is answered, after the same latency, with one datagram to its sender.
// Message: `T` or `U`, the quote's index (0-based line of quotes.txt) zero-padded to three digits, `: `, the text.
import type { Socket, udp } from 'bun';

export interface QuoteServerOptions {
  host?: string;
  /** 0 picks a free port (the same number for TCP and UDP). */
  port?: number;
  delayMs?: number;
  quotes?: string[];
  /** Called for every request (the CLI prints it as a JSON log line). */
  onRequest?: (request: { protocol: 'tcp' | 'udp'; address: string; port: number; index: number }) => void;
  /** For tests: how many incoming UDP datagrams to ignore, as a lossy network would. */
  dropUdpDatagrams?: number;
}

export interface QuoteServer {
  host: string;
  port: number;
  /** Requests answered so far, per protocol. */
  served: { tcp: number; udp: number };
  stop(): void;
}

export const DEFAULT_QUOTES_FILE = new URL('./quotes.txt', import.meta.url).pathname;

export async function loadQuotes(path = DEFAULT_QUOTES_FILE): Promise<string[]> {
  const quotes = (await Bun.file(path).text())
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (!quotes.length) throw new Error(`no quotes in ${path}`);
  return quotes;
}

export const formatQuote = (transport: 'T' | 'U', index: number, text: string) => `${transport}${String(index).padStart(3, '0')}: ${text}`;

export async function startQuoteServer(options: QuoteServerOptions = {}): Promise<QuoteServer> {
  const host = options.host ?? '127.0.0.1';
  const delayMs = options.delayMs ?? 500;
  const quotes = options.quotes ?? (await loadQuotes());
  let dropUdp = options.dropUdpDatagrams ?? 0;
  const served = { tcp: 0, udp: 0 };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (work: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      work();
    }, delayMs);
    timers.add(timer);
  };
  const pick = () => Math.floor(Math.random() * quotes.length);

  // UDP and TCP must share a port number: with port 0, take TCP's free port and retry if UDP finds it taken.
  for (let attempt = 0; ; attempt++) {
    const tcp = Bun.listen<undefined>({
      hostname: host,
      port: options.port ?? 1700,
      socket: {
        open(socket: Socket<undefined>) {
          const index = pick();
          options.onRequest?.({ protocol: 'tcp', address: socket.remoteAddress, port: 0, index });
          later(() => {
            served.tcp++;
            socket.end(formatQuote('T', index, quotes[index]!));
          });
        },
        data() {},
        error() {},
      },
    });
    let udpSocket: udp.Socket<'buffer'>;
    try {
      udpSocket = await Bun.udpSocket({
        hostname: host,
        port: tcp.port,
        socket: {
          data(socket, _data, port, address) {
            if (dropUdp > 0) {
              dropUdp--;
              return;
            }
            const index = pick();
            options.onRequest?.({ protocol: 'udp', address, port, index });
            later(() => {
              served.udp++;
              socket.send(formatQuote('U', index, quotes[index]!), port, address);
            });
          },
        },
      });
    } catch (error) {
      tcp.stop(true);
      if (options.port || attempt >= 10) throw error;
      continue;
    }
    return {
      host,
      port: tcp.port,
      served,
      stop() {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        tcp.stop(true);
        udpSocket.close();
      },
    };
  }
}
