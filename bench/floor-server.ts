// bench/floor-server.ts — the machine's floor for bench/public.ts's fan-out: a bare Bun.serve speaking just enough
// graphql-transport-ws (ack, then the subscriber's id remembered) that writes one prepared frame per subscriber each
// tick, with no GraphQL, no auth and no bookkeeping. What it costs per delivery is the kernel's loopback write and
// Bun's framing: a server that does any work per event cannot go below it on the same machine.
//   bun bench/floor-server.ts [port] [intervalMs=1000]   (prints `listening <port>`)
import type { ServerWebSocket } from 'bun';

const TEXT = 'Simplicity is prerequisite for reliability.';
const INTERVAL_MS = Number(process.argv[3] ?? 1000);

/** Each subscriber's frame prefix (its own operation id), by socket. */
const subscribers = new Map<ServerWebSocket<unknown>, string>();
let index = 0;

setInterval(() => {
  const at = index++ % 1000;
  const payload = JSON.stringify({
    data: { tick: { protocol: 'TCP', index: at, text: TEXT, raw: `T${String(at).padStart(3, '0')}: ${TEXT}`, receivedAt: new Date().toISOString() } },
  });
  for (const [socket, prefix] of subscribers) socket.sendText(`${prefix}${payload}}`);
}, INTERVAL_MS);

const server = Bun.serve({
  port: Number(process.argv[2] ?? process.env.PORT ?? 0),
  hostname: '127.0.0.1',
  fetch(request, server) {
    if (server.upgrade(request, { headers: { 'sec-websocket-protocol': 'graphql-transport-ws' } })) return undefined;
    // bench/public.ts waits for a JSON answer to `{ __typename }` before it starts.
    return Response.json({ data: { __typename: 'Query' } });
  },
  websocket: {
    message(socket, message) {
      const { type, id } = JSON.parse(String(message)) as { type: string; id?: string };
      if (type === 'connection_init') socket.sendText('{"type":"connection_ack"}');
      else if (type === 'subscribe') subscribers.set(socket, `{"id":${JSON.stringify(id)},"type":"next","payload":`);
      else if (type === 'ping') socket.sendText('{"type":"pong"}');
    },
    close(socket) {
      subscribers.delete(socket);
    },
  },
});
console.log(`listening ${server.port}`);
