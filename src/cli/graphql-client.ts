// What the command-line tools (calc, dishes) share: one GraphQL request over HTTP, and getting a token.

export class CliError extends Error {}

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
  if (payload.errors?.length) throw new CliError(payload.errors.map((e) => e.message).join('; '));
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
