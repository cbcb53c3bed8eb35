// The dashboard (dashboard/ at the top of the repository: browser code that talks to the public GraphQL API only),
// bundled by Bun's bundler (in the asset worker) when the server starts — no build step to forget, no CDN — and served compressed.
import type { Logger } from 'pino';
import { buildAssets, IMMUTABLE, REVALIDATE, type StaticAsset } from './static-assets';

export const DASHBOARD_PATH = '/dashboard';
const ENTRY = new URL('../../dashboard/index.html', import.meta.url).pathname;

/** The page and its hashed bundles, by path under DASHBOARD_PATH (`/` for the page); or why the build failed. */
export type DashboardAssets = { assets: Map<string, StaticAsset> } | { failure: string };

let built: Promise<DashboardAssets> | undefined;

/**
 * Built once per process (0.1–0.5 s), by the first visit: Bun's bundler keeps ~13 MB that an idle server need not hold.
 * Every later visit, and every later server of the process, shares it; a failure is logged once, with the first visit's log.
 */
export function dashboardAssets(log?: Pick<Logger, 'error'>): Promise<DashboardAssets> {
  return (built ??= build().then((result) => {
    if ('failure' in result) log?.error({ failure: result.failure }, 'the dashboard could not be built');
    return result;
  }));
}

async function build(): Promise<DashboardAssets> {
  try {
    const built = await buildAssets({ kind: 'dashboard', entry: ENTRY, publicPath: `${DASHBOARD_PATH}/`, pageCacheControl: REVALIDATE, bundleCacheControl: IMMUTABLE });
    return { assets: new Map(built.map(({ path, ...asset }) => [path, asset])) };
  } catch (error) {
    return { failure: error instanceof Error ? error.message : String(error) };
  }
}
