// A stand-in for the relay's upstream (the restaurant API) on 127.0.0.1, for the relay tests.

/** A stand-in for the restaurant API on 127.0.0.1: scriptable answers per path, counting every request it gets. */
export function startUpstream() {
  const hits = new Map<string, number>();
  const requests: { path: string; headers: Headers }[] = [];
  type Handler = (request: Request) => Response | Promise<Response>;
  const routes = new Map<string, Handler>();
  const json = (body: unknown, headers: Record<string, string> = {}, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(request) {
      const path = new URL(request.url).pathname.replace(/^\/api\//, '');
      hits.set(path, (hits.get(path) ?? 0) + 1);
      requests.push({ path, headers: request.headers });
      const route = routes.get(path);
      return route ? route(request) : json({ error: 'not found' }, {}, 404);
    },
  });
  return { server, hits, requests, routes, json, base: `http://127.0.0.1:${server.port}/api/`, count: (path: string) => hits.get(path) ?? 0 };
}

/** An upstream too slow for the relay's timeout: it answers only once the relay has given up on it. */
export const tooSlow = (request: Request) => new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve()));
