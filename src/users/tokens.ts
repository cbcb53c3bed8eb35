import { randomBytes } from 'node:crypto';

/** 32 random bytes, base64url: what a client holds. Only {@link hashToken} of it is stored. */
export const generateToken = (): string => randomBytes(32).toString('base64url');

// Bun's one-shot SHA-256: every request hashes its token, and this is three times cheaper than node:crypto's.
export const hashToken = (token: string): string => Bun.SHA256.hash(token, 'hex');

/** A password for the first admin when none is configured: 24 random bytes, base64url (32 characters). */
export const generatePassword = (): string => randomBytes(24).toString('base64url');

/** Extracts the token from an `Authorization: Bearer <token>` value; anything else is no token. */
function bearerToken(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match ? match[1]! : null;
}

/** What an Authorization value says: nothing, a bearer token, or something we cannot read (a client mistake). */
export type Authorization = { kind: 'none' } | { kind: 'bearer'; token: string } | { kind: 'malformed' };

export function parseAuthorization(authorization: string | null | undefined): Authorization {
  if (authorization == null || authorization.trim() === '') return { kind: 'none' };
  const token = bearerToken(authorization);
  return token ? { kind: 'bearer', token } : { kind: 'malformed' };
}

/** A header-like value from a plain object (connectionParams, GraphiQL's per-operation headers), any letter case. */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (typeof value === 'string' && key.toLowerCase() === name) return value;
  }
  return undefined;
}
