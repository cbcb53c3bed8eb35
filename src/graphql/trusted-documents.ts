// Trusted documents: with PERSISTED_ONLY=1 the server runs, for anyone but an admin, only the operations its own
// clients send (the dashboard's and the CLI's), listed in persisted-operations.json by the sha256 of their text
// (scripts/persisted-operations.ts writes it). A client may send the text, or only its hash the way Apollo's
// persisted queries do (`extensions.persistedQuery.sha256Hash`). Admins keep GraphiQL: they may run anything.
// The manifest is loaded by src/persisted-operations.ts.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode, HTTP_STATUS_OF } from '../errors';
import { sha256Hex, type TrustedDocuments } from '../persisted-operations';

/** The refusal of a document outside the manifest: Apollo's code for it, which its clients know. */
export function untrustedDocument(): GraphQLError {
  return new GraphQLError('this server runs only its trusted documents (PERSISTED_ONLY): send an operation the dashboard or the CLI sends, or sign in as an admin', {
    extensions: { code: ErrorCode.PERSISTED_QUERY_NOT_IN_LIST, http: { status: HTTP_STATUS_OF.PERSISTED_QUERY_NOT_IN_LIST } },
  });
}

/**
 * The gate every transport asks before a document is parsed: null when it may run. `isAdmin` is asked only for a
 * document outside the manifest (it may need the caller's token looked up).
 */
export async function trustedDocumentRefusal(documents: TrustedDocuments | null, query: unknown, isAdmin: () => Promise<boolean>): Promise<GraphQLError | null> {
  if (!documents) return null;
  if (typeof query === 'string' && documents.has(sha256Hex(query))) return null;
  return (await isAdmin()) ? null : untrustedDocument();
}

/**
 * Yoga's onParams, after APQ has found a hashed document: every HTTP request Yoga answers (JSON, GET, SSE, multipart,
 * each operation of a batch). The server's shortcuts (a cached answer, the fast path) take only a trusted document or
 * an admin's (routes.ts); graphql-ws and graphql-sse's single-connection mode ask trustedDocumentRefusal themselves.
 */
export function useTrustedDocuments(documents: TrustedDocuments | null, isAdmin: (request: Request) => Promise<boolean>): Plugin {
  return {
    async onParams({ params, request }) {
      // Not a request object at all (multipart `operations: null`): the shape check (limits.ts) answers that.
      if (params === null || typeof params !== 'object') return;
      const refusal = await trustedDocumentRefusal(documents, params.query, () => isAdmin(request));
      if (refusal) throw refusal;
    },
  };
}
