// bench/public-client.ts — the load generators of bench/public.ts, each run in its own process so the client is
// not the server's bottleneck. Prints one JSON line with its result. Every loop is bounded by time.
//   bun bench/public-client.ts http <url> <seconds> <connections> <query> [token]
//     → { requests, seconds, cpu }   (keep-alive fetch, `connections` requests in flight; cpu: CPU s per s, this process)
//   bun bench/public-client.ts ws <url> <subscribers> <seconds> <query> [token]
//     → { ready } once every socket has had its first `next`; then, after a line on stdin,
//       { subscribed, failures, deliveries, seconds, cpu, lags: [[ms, count], …] }
//   Raw graphql-transport-ws on Bun's WebSocket: connection_init → subscribe; after every socket has its first
//   `next` and a line came on stdin, counts deliveries for `seconds` and the lag of each (receipt − receivedAt).
//   bun bench/public-client.ts completions <url> <subscribers> <queue> <query> [token]   (bench/cluster-fanout.ts)
const [mode, url, ...rest] = process.argv.slice(2);
/** CPU seconds this process used since `before`: near 1 per second means the client itself was the limit. */
const cpuSeconds = (before: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(before);
  return (user + system) / 1e6;
};

if (mode === 'http') {
  const [seconds, connections, query, token] = [Number(rest[0]), Number(rest[1]), rest[2]!, rest[3]];
  const body = JSON.stringify({ query });
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const run = async (ms: number) => {
    const deadline = performance.now() + ms;
    let requests = 0;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < deadline) {
          const result = (await (await fetch(url!, { method: 'POST', headers, body })).json()) as { errors?: unknown };
          if (result.errors) throw new Error(JSON.stringify(result.errors));
          requests++;
        }
      }),
    );
    return requests;
  };
  await run(500); // warm-up: connections opened, code paths compiled
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const requests = await run(seconds * 1000);
  const elapsed = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ requests, seconds: elapsed, cpu: cpuSeconds(cpuBefore) / elapsed }));
} else if (mode === 'ws') {
  const [subscribers, seconds, query, token] = [Number(rest[0]), Number(rest[1]), rest[2]!, rest[3]];
  const lags = new Map<number, number>();
  let measuring = false;
  let deliveries = 0;
  const subscribed = openSubscribers(subscribers, query, token, (payload) => {
    if (!measuring) return;
    deliveries++;
    const tick = payload.quoteStream ?? payload.tick;
    const lag = Math.max(0, Date.now() - Date.parse(tick.receivedAt));
    lags.set(lag, (lags.get(lag) ?? 0) + 1);
  });
  await subscribed.flowing();
  // Every client process waits for the driver's line, so the measured span starts once every process has all its sockets subscribed
  // (a set-up still running in another process would otherwise be measured as lag).
  console.log(JSON.stringify({ ready: subscribed.count() }));
  for await (const _line of console) break;
  measuring = true;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Bun.sleep(seconds * 1000);
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(cpuBefore) / elapsed;
  const failures = subscribed.close();
  console.log(JSON.stringify({ subscribed: subscribed.count(), failures, deliveries, seconds: elapsed, cpu, lags: [...lags] }));
  process.exit(0);
} else if (mode === 'completions') {
  // `jobCompleted` subscribers for bench/cluster-fanout.ts: prints {"ready":…} once every socket has had a first
  // event (any queue), then counts the events of jobs in `queue` and their lag (receipt − the job's finishedAt) until
  // a line arrives on stdin; then prints { subscribed, failures, deliveries, lastAt, lags }.
  const [subscribers, queue, query, token] = [Number(rest[0]), rest[1]!, rest[2]!, rest[3]];
  const lags = new Map<number, number>();
  let deliveries = 0;
  let lastAt = 0;
  const subscribed = openSubscribers(subscribers, query, token, (payload) => {
    const job = payload.jobCompleted;
    if (job.queue !== queue) return;
    deliveries++;
    lastAt = Date.now();
    const lag = Math.max(0, lastAt - Date.parse(job.finishedAt));
    lags.set(lag, (lags.get(lag) ?? 0) + 1);
  });
  await subscribed.flowing();
  console.log(JSON.stringify({ ready: subscribed.count() }));
  for await (const _line of console) break;
  const failures = subscribed.close();
  console.log(JSON.stringify({ subscribed: subscribed.count(), failures, deliveries, lastAt, lags: [...lags] }));
  process.exit(0);
} else {
  console.error('usage: bun bench/public-client.ts http|ws …');
  process.exit(2);
}

/**
 * Raw graphql-transport-ws on Bun's WebSocket: `subscribers` sockets, each connection_init → subscribe `query`;
 * `onNext` gets every event's `data`. `flowing()` resolves once every socket has had its first event (or one failed,
 * or 30 s passed); `close()` closes them all and answers how many failed.
 */
function openSubscribers(subscribers: number, query: string, token: string | undefined, onNext: (data: any) => void) {
  const SETUP_LIMIT_MS = 30_000;
  const wsUrl = url!.replace(/^http/, 'ws');
  const init = JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} });
  const subscribe = JSON.stringify({ id: '1', type: 'subscribe', payload: { query } });
  let flowing = 0;
  let failures = 0;
  let closing = false;
  const sockets: WebSocket[] = [];
  const opened = (async () => {
    for (let i = 0; i < subscribers; i++) {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      let first = true;
      socket.onopen = () => socket.send(init);
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data as string);
        if (message.type === 'next') {
          if (first) {
            first = false;
            flowing++;
          }
          onNext(message.payload.data);
        } else if (message.type === 'connection_ack') socket.send(subscribe);
        else if (message.type === 'ping') socket.send('{"type":"pong"}');
        else if (message.type === 'error') {
          failures++;
          console.error(JSON.stringify(message));
        }
      };
      socket.onclose = (event) => {
        if (!closing || event.code !== 1000) failures++;
      };
      sockets.push(socket);
      // Opens in batches so the server's accept queue is not the thing measured.
      if (i % 200 === 199) await Bun.sleep(5);
    }
  })();
  return {
    async flowing() {
      await opened;
      const setupDeadline = performance.now() + SETUP_LIMIT_MS;
      while (flowing < subscribers && failures === 0 && performance.now() < setupDeadline) await Bun.sleep(10);
    },
    count: () => flowing,
    close() {
      closing = true;
      for (const socket of sockets) socket.close(1000);
      return failures;
    },
  };
}
