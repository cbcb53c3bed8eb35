// Where `jg login` keeps the server and token: $XDG_CONFIG_HOME/jobgraph/config.json (else ~/.config/…), mode
// 0600 in a 0700 folder, as gh keeps its hosts.yml. Read by every other command; flags and env override it.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export interface SavedLogin {
  url: string;
  token: string;
  username: string;
}

export const configPath = () => join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'jobgraph', 'config.json');

export function readSavedLogin(): SavedLogin | null {
  const path = configPath();
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SavedLogin;
  } catch {
    return null;
  }
}

export function saveLogin(login: SavedLogin): string {
  const path = configPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Created 0600 before the token is written; chmod too, in case the file was there with wider rights.
  writeFileSync(path, '', { mode: 0o600 });
  chmodSync(path, 0o600);
  writeFileSync(path, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600 });
  return path;
}

export function forgetLogin(): void {
  rmSync(configPath(), { force: true });
}
