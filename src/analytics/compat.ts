// The source system's REST interface ("Le Stats Sportif"), for its existing clients: POST /api/<statistic> with
// {"question", "state"} answers {"job_id"} at once; GET /api/get_results/<id>, /api/jobs, /api/num_jobs and
// /api/graceful_shutdown as the source answered them (shared/specs/analytics.md). Unlike the source, every call
// needs a token (Authorization: Bearer …); a user sees their own jobs, managers and admins all.
import type { Services } from '../app';
import { FINAL_STATUSES } from '../db/schema';
import { DomainError } from '../errors';
import { authenticateRequest } from '../users/auth';
import type { AnalyticsResult } from './job';
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

const reply = (status: number, body: unknown) => Response.json(body, { status });
const refuse = (status: number, reason: string) => reply(status, { status: 'error', reason });
/** The source's words for our statuses. */
const sourceStatus = (status: string) => (status === 'SUCCEEDED' ? 'done' : status === 'QUEUED' || status === 'RUNNING' ? 'running' : 'error');

export async function handleCompatRequest(app: Services, request: Request, pathname: string): Promise<Response> {
  // The source's REST clients know one answer for every refused token: a missing, malformed or dead one alike.
  const { user } = await authenticateRequest(app.users, request);
  if (!user) return refuse(401, 'user info error');
  const [, , name, id] = pathname.split('/');
  try {
    if (request.method === 'POST' && name && ROUTES[name] && id === undefined) {
      if (app.jobs.isDraining) return refuse(200, 'shutting down');
      let body: { question?: unknown; state?: unknown };
      try {
        body = (await request.json()) as typeof body;
      } catch {
        return refuse(400, 'the body must be JSON: {"question": …} or {"question": …, "state": …}');
      }
      const checked = app.analytics.checkJobInput({ query: ROUTES[name]!, question: body?.question, state: body?.state });
      const job = await app.jobs.submit(user, 'ANALYTICS', checked);
      return reply(200, { job_id: job.id });
    }
    if (request.method !== 'GET') return refuse(405, `${request.method} ${pathname} is not part of the API`);
    if (name === 'get_results' && id !== undefined) {
      const jobId = Number(id);
      const job = Number.isSafeInteger(jobId) && jobId > 0 ? await app.jobs.find(user, jobId) : null;
      if (!job || job.kind !== 'ANALYTICS') return refuse(200, 'Invalid job_id');
      if (!FINAL_STATUSES.includes(job.status)) return reply(200, { status: 'running' });
      if (job.status !== 'SUCCEEDED') return refuse(200, job.error ?? job.status.toLowerCase());
      return reply(200, { status: 'done', data: (job.result as AnalyticsResult).data });
    }
    if (name === 'jobs' && id === undefined) {
      return reply(200, { status: 'done', data: (await app.jobs.statusesOfKind(user, 'ANALYTICS')).map((job) => ({ [job.id]: sourceStatus(job.status) })) });
    }
    if (name === 'num_jobs' && id === undefined) {
      return reply(200, (await app.jobs.statusesOfKind(user, 'ANALYTICS')).filter((job) => !FINAL_STATUSES.includes(job.status)).length);
    }
    if (name === 'graceful_shutdown' && id === undefined) {
      if (user.role !== 'ADMIN') return refuse(403, 'only an admin may shut the server down');
      const pending = await app.jobs.pendingCount();
      if (!app.jobs.isDraining) app.requestShutdown();
      return reply(200, { status: pending > 0 ? 'running' : 'done' });
    }
    return refuse(404, `no route ${pathname}`);
  } catch (error) {
    if (error instanceof DomainError) return refuse(error.code === 'UNAVAILABLE' ? 503 : 400, error.message);
    throw error;
  }
}
