// The trusted documents' manifest (persisted-operations.json, written by scripts/persisted-operations.ts): the
// dashboard's and the CLI's operations by the sha256 of their text. PERSISTED_ONLY=1 loads it at start; the gate
// itself is src/graphql/trusted-documents.ts.

export const sha256Hex = (text: string): string => new Bun.CryptoHasher('sha256').update(text).digest('hex');

export const PERSISTED_OPERATIONS_FILE = new URL('../persisted-operations.json', import.meta.url).pathname;

/** The manifest: document text by its sha256. */
export type TrustedDocuments = ReadonlyMap<string, string>;

export async function loadTrustedDocuments(path = PERSISTED_OPERATIONS_FILE): Promise<TrustedDocuments> {
  let listed: unknown;
  try {
    listed = await Bun.file(path).json();
  } catch (error) {
    throw new Error(`PERSISTED_ONLY=1 needs the trusted documents at ${path} (bun run persisted:build): ${(error as Error).message}`);
  }
  const entries = Object.entries((listed ?? {}) as Record<string, unknown>);
  if (entries.length === 0 || entries.some(([hash, document]) => typeof document !== 'string' || sha256Hex(document) !== hash)) {
    throw new Error(`PERSISTED_ONLY=1: ${path} must map the sha256 of each document to its text (bun run persisted:build)`);
  }
  return new Map(entries as [string, string][]);
}
