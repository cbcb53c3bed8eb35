// What the multi-process tests (cluster, event-cluster, lifecycle-cluster) ask of their instances and database.

/** A GraphQL operation over HTTP whose data is expected: an answer with errors throws, naming the instance. */
export async function gqlData(url: string, query: string, variables: Record<string, unknown> = {}, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: any[] };
  if (!body.data || body.errors) throw new Error(`${url}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** One statement on the test's PostgreSQL database, on a connection of its own. */
export async function sqlOnce<T>(databaseUrl: string, text: string): Promise<T[]> {
  const client = new Bun.SQL(databaseUrl, { max: 1 });
  try {
    return [...((await client.unsafe(text)) as T[])];
  } finally {
    await client.close();
  }
}
