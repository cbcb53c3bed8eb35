// The trusted documents' manifest (persisted-operations.json, written by scripts/persisted-operations.ts): the
// dashboard's and the CLI's operations by the sha256 of their text. PERSISTED_ONLY=1 loads it at start; the gate
// itself is src/graphql/trusted-documents.ts.

export const sha256Hex = (text: string): string => new Bun.CryptoHasher('sha256').update(text).digest('hex');

export const PERSISTED_OPERATIONS_FILE = new URL('../persisted-operations.json', import.meta.url).pathname;

/** The manifest: document text by its sha256. */
export type TrustedDocuments = ReadonlyMap<string, string>;

export async function loadTrustedDocuments(path = PERSISTED_OPERATIONS_FILE): Promise<TrustedDocuments> {
  const listed = (await Bun.file(path).json()) as Record<string, string>;
  return new Map(Object.entries(listed));
}
