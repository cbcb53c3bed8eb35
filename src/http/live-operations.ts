// Caps on live operations (WebSocket operations and SSE streams) per user and per client address, across both
// transports: every live subscription holds listeners and costs work on each event, so one client may not open
// thousands of them. The cap per WebSocket connection is counted on the socket itself (see websocket.ts).

export interface LiveOperationOwner {
  userId: number | null;
  clientAddress: string | null;
}

/** A cap that refused: which one, its size, and a message naming the setting. */
export interface LiveOperationRefusal {
  message: string;
  limit: 'subscriptionsPerConnection' | 'subscriptionsPerUser' | 'subscriptionsPerAddress';
  max: number;
}

export function capRefusal(limit: LiveOperationRefusal['limit'], max: number): LiveOperationRefusal {
  const [scope, setting] = {
    subscriptionsPerConnection: ['this connection', 'MAX_SUBSCRIPTIONS_PER_CONNECTION'],
    subscriptionsPerUser: ['this user', 'MAX_SUBSCRIPTIONS_PER_USER'],
    subscriptionsPerAddress: ['this client address', 'MAX_SUBSCRIPTIONS_PER_ADDRESS'],
  }[limit];
  return { message: `too many live operations for ${scope}: at most ${max} (${setting}); end one first`, limit, max };
}

/** 0 turns a cap off (as with the rate rule: behind a reverse proxy every client has the proxy's address). */
export class LiveOperationCaps {
  private readonly perUser = new Map<number, number>();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly caps: { maxPerUser: number; maxPerAddress: number }) {}

  /** Counts one more live operation for its user and address; the returned `release` (idempotent) uncounts it. */
  acquire({ userId, clientAddress }: LiveOperationOwner): { release: () => void } | { refusal: LiveOperationRefusal } {
    const address = clientAddress ?? 'unknown';
    const { maxPerUser, maxPerAddress } = this.caps;
    if (userId !== null && maxPerUser > 0 && (this.perUser.get(userId) ?? 0) >= maxPerUser) {
      return { refusal: capRefusal('subscriptionsPerUser', maxPerUser) };
    }
    if (maxPerAddress > 0 && (this.perAddress.get(address) ?? 0) >= maxPerAddress) {
      return { refusal: capRefusal('subscriptionsPerAddress', maxPerAddress) };
    }
    if (userId !== null) increment(this.perUser, userId, 1);
    increment(this.perAddress, address, 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        if (userId !== null) increment(this.perUser, userId, -1);
        increment(this.perAddress, address, -1);
      },
    };
  }

  /** Live operations counted now (tests check that nothing leaks). */
  stats(): { users: number; addresses: number; operations: number } {
    let operations = 0;
    for (const count of this.perAddress.values()) operations += count;
    return { users: this.perUser.size, addresses: this.perAddress.size, operations };
  }
}

/** Keeps only keys with a count, so the maps stay as small as the set of owners with something live. */
function increment<Key>(counts: Map<Key, number>, key: Key, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}
