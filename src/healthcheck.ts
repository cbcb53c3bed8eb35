// The container's HEALTHCHECK: exit 0 when this instance's GET /ready answers 200 within 2 s, 1 otherwise.
// It reads the same PORT as the server, and asks loopback (HOST may be 0.0.0.0, which is not an address to call).
const port = Number(process.env.PORT ?? 4000);
try {
  const response = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(2000) });
  process.exit(response.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
