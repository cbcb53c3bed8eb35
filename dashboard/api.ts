/// <reference lib="dom" />
// The dashboard's only way to jobgraph: its public GraphQL API, over HTTP (queries, mutations, uploads) and
// graphql-ws (subscriptions). The token lives in sessionStorage: it ends with the tab.
import { type Client, createClient } from 'graphql-ws';

const TOKEN_KEY = 'jobgraph:token';
const ENDPOINT = '/graphql';

export type Role = 'ADMIN' | 'MANAGER' | 'USER';
export interface Me {
  id: string;
  username: string;
  role: Role;
}

/** A GraphQL error as the API words it, with its extensions.code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

interface GraphQLResponse<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

function unwrap<T>(body: GraphQLResponse<T>): T {
  const [first] = body.errors ?? [];
  if (first) throw new ApiError(first.message, first.extensions?.code);
  return body.data as T;
}

let token: string | null = sessionStorage.getItem(TOKEN_KEY);
let socket: Client | null = null;

export const currentToken = () => token;

export function setToken(value: string | null): void {
  token = value;
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  // A new identity gets a new socket: the old one's subscriptions were authorized for the old token.
  void socket?.dispose();
  socket = null;
}

const authHeaders = (): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(ENDPOINT, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...authHeaders() },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }))) as GraphQLResponse<T>;
  return unwrap(body);
}

/**
 * A GraphQL multipart upload (one file at `variables.<fileVariable>`), with upload progress: fetch cannot report
 * it, XMLHttpRequest can. `onProgress` gets the fraction of the request body sent.
 */
export function gqlUpload<T>(query: string, variables: Record<string, unknown>, filePath: string, file: File, onProgress: (fraction: number) => void): Promise<T> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify({ 0: [filePath] }));
  form.append('0', file, file.name);
  return new Promise<T>((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', ENDPOINT);
    for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
    // Yoga's CSRF rule: a multipart POST must say it is no plain form.
    request.setRequestHeader('graphql-preflight', '1');
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () => {
      try {
        resolve(unwrap(JSON.parse(request.responseText) as GraphQLResponse<T>));
      } catch (error) {
        reject(error instanceof ApiError ? error : new ApiError(`HTTP ${request.status}`, undefined));
      }
    };
    request.onerror = () => reject(new ApiError('the upload failed (network)', undefined));
    request.send(form);
  });
}

function ws(): Client {
  return (socket ??= createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${ENDPOINT}`,
    connectionParams: () => authHeaders(),
    lazy: true,
    retryAttempts: 5,
  }));
}

/** Every event of a subscription to `onData` until the returned function is called; errors to `onError`. */
export function subscribe<T>(query: string, variables: Record<string, unknown>, onData: (data: T) => void, onError: (error: ApiError) => void = () => {}): () => void {
  return ws().subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        try {
          onData(unwrap(result as GraphQLResponse<T>));
        } catch (error) {
          onError(error as ApiError);
        }
      },
      error: (error) => onError(new ApiError(Array.isArray(error) ? error.map((e) => e.message).join('; ') : String((error as Error)?.message ?? error), undefined)),
      complete: () => {},
    },
  );
}
