// How events cross instances (REDIS_URL): each message is read as untrusted input. Its signature is checked when the
// deployment has a secret (REDIS_EVENTS_SECRET), then each event's payload is parsed with its topic's schema, so a
// message no jobgraph of this deployment wrote can neither end a subscriber's stream nor hand anyone a forged job.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { FINAL_STATUSES, JOB_STATUSES } from './db/schema';

/** Dates survive the trip as tagged numbers (jobs and login events carry several). */
const DATE_TAG = '$jobgraph.date';

/** A signed message is refused once it is older than this (a replayed capture); covers clock skew between hosts. */
export const MAX_MESSAGE_AGE_MS = 60_000;

const date = z.date();
const nullableDate = date.nullable();

/**
 * A job as the store reads it (src/db/schema.ts `jobs`), field by field: unknown keys are stripped, so a field no
 * schema here names never reaches a resolver (test/event-wire.test.ts fails when a column is added without it).
 */
export const wireJob = z.object({
  id: z.number().int().positive(),
  // Kinds are registered at start (src/jobs/kind.ts); a kind this instance does not know is still a name.
  kind: z.string().min(1).max(100),
  status: z.enum(JOB_STATUSES),
  queue: z.string().min(1).max(200),
  ownerId: z.number().int().nullable(),
  result: z.unknown(),
  error: z.string().nullable(),
  progress: z.number().min(0).max(1),
  attempts: z.number().int().nonnegative(),
  maxAttempts: z.number().int().nonnegative(),
  priority: z.number().int(),
  timeoutMs: z.number().int().nonnegative(),
  runAt: date,
  // Columns added later default when absent: an instance of the version before (a rolling deploy) is still heard.
  idempotencyKey: z.string().max(200).nullable().default(null),
  // The schedule that made it (a name), or null.
  schedule: z.string().max(200).nullable().default(null),
  leaseToken: z.string().nullable(),
  leaseExpiresAt: nullableDate,
  claimedBy: z.string().nullable(),
  createdAt: date,
  startedAt: nullableDate,
  finishedAt: nullableDate,
});

const loginEvent = z.object({
  username: z.string().max(1000),
  success: z.boolean(),
  reason: z.string().max(200).nullable(),
  clientAddress: z.string().max(200).nullable(),
  at: date,
});

/** Each topic's arguments, as `publish(topic, ...args)` takes them (see Topics in src/events.ts). */
export const topicArgs = {
  loginEvents: z.tuple([loginEvent]),
  jobUpdated: z.tuple([z.number().int().positive(), wireJob]).refine(([id, job]) => id === job.id, 'the id and the job disagree'),
  jobCompleted: z.tuple([wireJob]).refine(([job]) => FINAL_STATUSES.includes(job.status), 'a completed job must be in a final state'),
  sessionsChanged: z.tuple([z.object({ reason: z.string().max(200), change: z.string().max(200).optional() })]),
  loginUnlocked: z.tuple([z.object({ username: z.string().min(1).max(1000) })]),
} as const;
export type WireTopic = keyof typeof topicArgs;
type WireJob = z.infer<typeof wireJob>;

const batch = z.object({
  from: z.string().min(1).max(100),
  /** Milliseconds since the epoch at the sender; with a secret, stale messages are refused. */
  sentAt: z.number().int().optional(),
  /** Counts up per sender: with a secret, a number at or below the last one seen from that sender is a replay. */
  seq: z.number().int().nonnegative().optional(),
  events: z.array(z.object({ topic: z.string(), args: z.array(z.unknown()) })).max(10_000),
  /**
   * Events of `events` (by index) that also stand for a `jobCompleted` of their job: a final job's jobUpdated and
   * jobCompleted (announce) carry one job, which then crosses once. A receiver delivers that jobCompleted right after
   * the jobUpdated. One without this field (the version before) never reads it, and hears final states from the job
   * event log instead (src/jobs/events/relay.ts).
   */
  completes: z.array(z.number().int().nonnegative()).max(10_000).optional(),
});
export type WireBatch = z.infer<typeof batch>;

/** Why a message, or one event of it, was dropped (the `reason` label of jobgraph_redis_events_dropped_total). */
export type DropReason = 'unsigned' | 'malformed' | 'stale' | 'invalid_event';

export function encodeBatch(message: WireBatch): string {
  return JSON.stringify(tagDates(message));
}

/**
 * `value` with every Date (at any depth) as its tagged number, copied where one was found, for a JSON.stringify without
 * a replacer: a replacer function is called for every key, after each Date was made an ISO string only to be thrown
 * away — a fifth of an instance's CPU in a bulk run on PostgreSQL with Redis went there (docs/benchmarks.md).
 */
function tagDates(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return { [DATE_TAG]: value.getTime() };
  if (Array.isArray(value)) {
    let copy: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const tagged = tagDates(item);
      if (tagged !== item) (copy ??= value.slice())[i] = tagged;
    }
    return copy ?? value;
  }
  // Anything with its own JSON form (a Buffer…) is written as JSON.stringify writes it, as before.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  let copy: Record<string, unknown> | null = null;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const item = (value as Record<string, unknown>)[key];
    const tagged = tagDates(item);
    if (tagged !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = tagged;
  }
  return copy ?? value;
}

function decodeJson(text: string): unknown {
  return JSON.parse(text, (_key, value) => (value !== null && typeof value === 'object' && typeof value[DATE_TAG] === 'number' ? new Date(value[DATE_TAG]) : value));
}

// The wire form: `<hex HMAC-SHA256 of body>\n<body>` when signed, the body alone when not. JSON.stringify never writes
// a raw newline, so the two cannot be confused.
export const SIGNATURE_LINE_LENGTH = 65;
const signatureOf = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest();

export function sign(body: string, secret: string | undefined): string {
  return secret ? `${signatureOf(secret, body).toString('hex')}\n${body}` : body;
}

/** The message's body when its signature holds (or no secret is set); `unsigned` otherwise. */
function verified(message: string, secret: string | undefined): string | 'unsigned' {
  const newline = message.indexOf('\n');
  if (!secret) return newline === -1 ? message : message.slice(newline + 1);
  if (newline !== SIGNATURE_LINE_LENGTH - 1) return 'unsigned';
  const body = message.slice(newline + 1);
  const given = Buffer.from(message.slice(0, 64), 'hex');
  return given.length === 32 && timingSafeEqual(given, signatureOf(secret, body)) ? body : 'unsigned';
}

export type ReadResult =
  | { dropped: DropReason; detail: string }
  | { batch: WireBatch; events: { topic: WireTopic; args: unknown[] }[]; invalid: { topic: string; detail: string }[] };

/**
 * Reads one message as a receiver: every check that can fail, in order; events whose payload fails their topic's
 * schema are listed apart (the rest of the batch is still delivered). `lastSeq` is the receiver's memory of senders.
 */
export function readMessage(message: string, options: { secret: string | undefined; now: number; lastSeq: Map<string, { seq: number; at: number }> }): ReadResult {
  const body = verified(message, options.secret);
  if (body === 'unsigned') return { dropped: 'unsigned', detail: 'no valid signature (REDIS_EVENTS_SECRET)' };
  let parsed: WireBatch;
  try {
    const result = batch.safeParse(decodeJson(body));
    if (!result.success) return { dropped: 'malformed', detail: z.prettifyError(result.error).slice(0, 300) };
    parsed = result.data;
  } catch (error) {
    return { dropped: 'malformed', detail: (error as Error).message.slice(0, 300) };
  }
  if (options.secret) {
    // Signed, so from this deployment; a captured message sent again must not replay its events.
    const { sentAt, seq } = parsed;
    if (sentAt === undefined || seq === undefined || Math.abs(options.now - sentAt) > MAX_MESSAGE_AGE_MS) return { dropped: 'stale', detail: 'too old, or without sentAt/seq' };
    const last = options.lastSeq.get(parsed.from);
    if (last && seq <= last.seq) return { dropped: 'stale', detail: `seq ${seq} already seen from ${parsed.from}` };
    options.lastSeq.set(parsed.from, { seq, at: options.now });
    if (options.lastSeq.size > 1000) {
      for (const [from, seen] of options.lastSeq) if (options.now - seen.at > MAX_MESSAGE_AGE_MS) options.lastSeq.delete(from);
    }
  }
  const events: { topic: WireTopic; args: unknown[] }[] = [];
  const invalid: { topic: string; detail: string }[] = [];
  const completes = new Set(parsed.completes);
  parsed.events.forEach(({ topic, args }, index) => {
    const schema = Object.hasOwn(topicArgs, topic) ? topicArgs[topic as WireTopic] : undefined;
    const result = schema?.safeParse(args);
    if (!result) invalid.push({ topic: topic.slice(0, 100), detail: 'unknown topic' });
    else if (result.success) events.push({ topic: topic as WireTopic, args: result.data as unknown[] });
    else invalid.push({ topic, detail: z.prettifyError(result.error).slice(0, 300) });
    if (!completes.has(index)) return;
    const job = topic === 'jobUpdated' && result?.success ? (result.data as [number, WireJob])[1] : undefined;
    if (job && FINAL_STATUSES.includes(job.status)) events.push({ topic: 'jobCompleted', args: [job] });
    else invalid.push({ topic: 'jobCompleted', detail: `completes: event ${index} is not a valid jobUpdated of a job in a final state` });
  });
  return { batch: parsed, events, invalid };
}
