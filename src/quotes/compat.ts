// The source quote service's REST interface, for its existing clients (shared/specs/pi-and-quotes.md): `POST /quote`
// with {"username", "password", "protocol": "tcp" | "udp", "concurrency"} answers as the source did. The same
// service as the `quotes` query; credentials and errors as every source JSON service (src/rest.ts).
import { z } from 'zod';
import type { Services } from '../services';
import { parseInput } from '../input';
import { fieldOf, type RestRequest, sourceJsonService } from '../rest';

/** The source's protocol names, lowercase only; required, and checked before concurrency (the service's order). */
const sourceProtocol = z.object({
  protocol: z.enum(['tcp', 'udp'], { error: (issue) => (issue.input === undefined ? 'missing field protocol' : 'invalid field protocol') }),
});

export const handleQuoteRequest = ({ users, quotes }: Pick<Services, 'users' | 'quotes'>, rest: RestRequest) =>
  sourceJsonService(users, rest, 'quotes', async (body) => {
    const { protocol } = parseInput(sourceProtocol, { protocol: fieldOf(body, 'protocol') });
    const batch = await quotes.fetch(protocol === 'tcp' ? 'TCP' : 'UDP', fieldOf(body, 'concurrency'));
    return { protocol, concurrency: batch.concurrency, quotes: batch.quotes, time: batch.seconds };
  });
