import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** A short hash of the files under `paths` (folders walked, names and contents): what a cache built from them is keyed by. */
export function hashFiles(root: string, paths: string[], salt = ''): string {
  const hash = createHash('sha256').update(salt);
  for (const input of paths) {
    const path = join(root, input);
    if (!existsSync(path)) continue;
    const files = statSync(path).isDirectory() ? readdirSync(path, { recursive: true, encoding: 'utf8' }).sort().map((file) => join(path, file)) : [path];
    for (const file of files) if (statSync(file).isFile()) hash.update(relative(root, file)).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}
