// The dashboard (dashboard/ at the top of the repository: browser code that talks to the public GraphQL API only),
// bundled by Bun's bundler when the server starts — no build step to forget, no CDN — and served compressed.
import { compressAsset, IMMUTABLE, REVALIDATE, type StaticAsset } from './static-assets';

export const DASHBOARD_PATH = '/dashboard';
const ENTRY = new URL('../../dashboard/index.html', import.meta.url).pathname;

/** The page and its hashed bundles, by path under DASHBOARD_PATH (`/` for the page); or why the build failed. */
export type DashboardAssets = { assets: Map<string, StaticAsset> } | { failure: string };

let built: Promise<DashboardAssets> | undefined;

/** Built once per process (about 0.1 s), by the first server to start; every later one shares it. */
export function dashboardAssets(): Promise<DashboardAssets> {
  return (built ??= build());
}

async function build(): Promise<DashboardAssets> {
  const result = await Bun.build({ entrypoints: [ENTRY], target: 'browser', minify: true, publicPath: `${DASHBOARD_PATH}/` }).catch(
    (error: unknown) => ({ success: false as const, logs: [error], outputs: [] }),
  );
  if (!result.success) return { failure: result.logs.map(String).join('\n') };
  const assets = new Map<string, StaticAsset>();
  await Promise.all(
    result.outputs.map(async (output) => {
      const isPage = output.path.endsWith('.html');
      const asset = await compressAsset(new Uint8Array(await output.arrayBuffer()), output.type, isPage ? REVALIDATE : IMMUTABLE);
      assets.set(isPage ? '/' : output.path.replace(/^\.\//, '/'), asset);
    }),
  );
  return { assets };
}
