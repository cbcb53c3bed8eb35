// The Chromium the dashboard tests drive through playwright-core (no download): Debian's, found on this machine.
// Where installed, `chromium-headless-shell` (Chromium's own headless build, what Playwright runs headless) is
// preferred: the same Blink and V8 without the full browser's UI process, ~15 % less CPU over the dashboard tests.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { optionalTool } from './required';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium-headless-shell', '/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** The Chromium to drive, or undefined where none is installed (an error under JOBGRAPH_REQUIRE_ALL). */
export const CHROMIUM = optionalTool(
  CANDIDATES.find((path) => path && existsSync(path)),
  'Chromium',
);

/** A headless Chromium with nothing running beside the page (no updates, sync or background fetches). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}
