import type { ErrorCode } from '../errors';

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) => Response.json(body, { status, headers });

/** An answer outside GraphQL execution, shaped like a GraphQL error so clients read every refusal one way. */
export const errorResponse = (
  status: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
  details: Record<string, unknown> = {},
) => json(status, { errors: [{ message, extensions: { code, ...details } }] }, headers);
