// The source π service's REST interface, for its existing clients (shared/specs/pi-and-quotes.md): `POST /pi` with
// {"username", "password", "simulations", "concurrency"} answers as the source did. The same job kind as
// `estimatePi`, run now; credentials and errors as every source JSON service (src/rest.ts).
import type { Services } from '../services';
import { fieldOf, type RestRequest, sourceJsonService } from '../rest';
import { piKind } from './pi';

export const handlePiRequest = ({ users, jobs }: Pick<Services, 'users' | 'jobs'>, rest: RestRequest) =>
  sourceJsonService(users, rest, 'simulations', async (body) => {
    // An absent concurrency is 1; an explicit null is refused, as the source refused it.
    const estimate = await jobs.runNow(piKind, { simulations: fieldOf(body, 'simulations'), concurrency: fieldOf(body, 'concurrency') });
    return {
      simulations: estimate.simulations,
      concurrency: estimate.concurrency,
      pi: estimate.pi,
      simulations_distribution: estimate.simulationsDistribution,
      time: estimate.seconds,
    };
  });
