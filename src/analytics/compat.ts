// The source system's REST interface ("Le Stats Sportif"), for its existing clients: POST /api/<statistic> with
// {"question", "state"} answers {"job_id"} at once; GET /api/get_results/<id>, /api/jobs, /api/num_jobs and
// /api/graceful_shutdown as the source answered them (shared/specs/analytics.md). With a token a computation is a
// durable ANALYTICS job (a user sees their own, managers and admins all). Without one — only when ANONYMOUS_ACCESS
// lists analytics — it is a read: the statistic answered from the same service, kept in memory under its own ids
// (no job is stored, and no job is ever shown to an anonymous caller). Every request is logged, as the source's was.
import type { Services } from '../services';
import { FINAL_STATUSES } from '../db/schema';
import { DomainError, HTTP_STATUS_OF } from '../errors';
import { refuse, type RestRequest, reply } from '../rest';
import { authenticateRequest } from '../users/auth';
import type { AuthUser } from '../users/service';
import type { AnalyticsResult } from './analytics';
import type { AnalyticsQuery } from './service';

const ROUTES: Record<string, AnalyticsQuery> = {
  states_mean: 'STATES_MEAN',
  state_mean: 'STATE_MEAN',
  best5: 'BEST5',
  worst5: 'WORST5',
  global_mean: 'GLOBAL_MEAN',
  diff_from_mean: 'DIFF_FROM_MEAN',
  state_diff_from_mean: 'STATE_DIFF_FROM_MEAN',
  mean_by_category: 'MEAN_BY_CATEGORY',
  state_mean_by_category: 'STATE_MEAN_BY_CATEGORY',
};

/** Anonymous computations remembered (their inputs, not their answers); the oldest are forgotten beyond it. */
export const ANONYMOUS_RESULTS_KEPT = 10_000;

/** The source's words for our statuses. */
const sourceStatus = (status: string) => (status === 'SUCCEEDED' ? 'done' : status === 'QUEUED' || status === 'RUNNING' ? 'running' : 'error');

type CheckedInput = ReturnType<Services['analytics']['checkJobInput']>;

/** What a route answered, and the job it was about (for the request's log line). */
interface Answer {
  response: Response;
  jobId?: number;
}

export function createAnalyticsCompat(app: Pick<Services, 'users' | 'jobs' | 'analytics'>) {
  // Anonymous computations by id: answered again from the in-memory index when read (microseconds), so only the
  // small inputs are kept.
  const anonymous = new Map<number, CheckedInput>();
  let lastAnonymousId = 0;

  const answerOf = (input: CheckedInput) => app.analytics.answer(input.query, input.question, input.state, app.analytics.checkYears(input.yearFrom, input.yearTo));

  async function route(rest: RestRequest, user: AuthUser | null): Promise<Answer> {
    const { request, pathname } = rest;
    const username = user?.username;
    const error = (status: number, reason: string) => ({ response: refuse(rest, status, reason, username, { status: 'error', reason }) });
    const [, , name, id] = pathname.split('/');
    if (request.method === 'POST' && name && ROUTES[name] && id === undefined) {
      if (app.jobs.isDraining) return error(200, 'shutting down');
      let body: { question?: unknown; state?: unknown };
      try {
        body = (await request.json()) as typeof body;
      } catch {
        return error(400, 'the body must be JSON: {"question": …} or {"question": …, "state": …}');
      }
      const checked = app.analytics.checkJobInput({ query: ROUTES[name]!, question: body?.question, state: body?.state });
      if (!user) {
        anonymous.set(++lastAnonymousId, checked);
        if (anonymous.size > ANONYMOUS_RESULTS_KEPT) anonymous.delete(anonymous.keys().next().value!);
        return { response: reply(200, { job_id: lastAnonymousId }), jobId: lastAnonymousId };
      }
      const job = await app.jobs.submit(user, 'ANALYTICS', checked);
      return { response: reply(200, { job_id: job.id }), jobId: job.id };
    }
    if (request.method !== 'GET') return error(405, `${request.method} ${pathname} is not part of the API`);
    if (name === 'get_results' && id !== undefined) {
      const jobId = Number(id);
      const known = Number.isSafeInteger(jobId) && jobId > 0;
      if (!user) {
        const input = known ? anonymous.get(jobId) : undefined;
        if (!input) return { ...error(200, 'Invalid job_id'), jobId: known ? jobId : undefined };
        return { response: reply(200, { status: 'done', data: answerOf(input) }), jobId };
      }
      const job = known ? await app.jobs.find(user, jobId) : null;
      if (!job || job.kind !== 'ANALYTICS') return { ...error(200, 'Invalid job_id'), jobId: known ? jobId : undefined };
      if (!FINAL_STATUSES.includes(job.status)) return { response: reply(200, { status: 'running' }), jobId };
      if (job.status !== 'SUCCEEDED') return { response: reply(200, { status: 'error', reason: job.error ?? job.status.toLowerCase() }), jobId };
      return { response: reply(200, { status: 'done', data: (job.result as AnalyticsResult).data }), jobId };
    }
    if (name === 'jobs' && id === undefined) {
      const data = user
        ? (await app.jobs.statusesOfKind(user, 'ANALYTICS')).map((job) => ({ [job.id]: sourceStatus(job.status) }))
        : [...anonymous.keys()].map((anonymousId) => ({ [anonymousId]: 'done' }));
      return { response: reply(200, { status: 'done', data }) };
    }
    if (name === 'num_jobs' && id === undefined) {
      const pending = user ? (await app.jobs.statusesOfKind(user, 'ANALYTICS')).filter((job) => !FINAL_STATUSES.includes(job.status)).length : 0;
      return { response: reply(200, pending) };
    }
    if (name === 'graceful_shutdown' && id === undefined) {
      // Stopping the intake is an admin's act, never an anonymous one.
      if (!user) return error(401, 'user info error');
      if (user.role !== 'ADMIN') return error(403, 'only an admin may shut the server down');
      // As the source: new computations are refused, queued ones finish, reads keep working; the process stays up
      // (SIGTERM or the `shutdown` mutation end it).
      app.jobs.stopAccepting();
      return { response: reply(200, { status: (await app.jobs.pendingCount()) > 0 ? 'running' : 'done' }) };
    }
    return error(404, `no route ${pathname}`);
  }

  /** One request: who asks (a token, or nobody when ANONYMOUS_ACCESS lists analytics), the route, and its log line. */
  return async function handleAnalyticsCompat(rest: RestRequest): Promise<Response> {
    const started = performance.now();
    const authentication = await authenticateRequest(app.users, rest.request);
    let answer: Answer;
    // The source's REST clients know one answer for every refused token: a missing, malformed or dead one alike.
    if (authentication.failure || (!authentication.user && !rest.anonymousAccess.has('analytics'))) {
      answer = { response: refuse(rest, 401, 'user info error', null, { status: 'error', reason: 'user info error' }) };
    } else {
      try {
        answer = await route(rest, authentication.user);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        answer = { response: refuse(rest, HTTP_STATUS_OF[error.code], error.message, authentication.user?.username, { status: 'error', reason: error.message }) };
      }
    }
    rest.log.info(
      {
        requestId: rest.requestId,
        method: rest.request.method,
        route: rest.pathname,
        status: answer.response.status,
        jobId: answer.jobId ?? null,
        durationMs: Math.round((performance.now() - started) * 1000) / 1000,
        address: rest.clientAddress,
        username: authentication.user?.username ?? null,
      },
      'api request',
    );
    return answer.response;
  };
}
