import { z } from 'zod';
import { stringAtMost } from '../input';

// Characters a relayed path may use: RFC 3986 path and query characters, without `@` (userinfo) or `\`.
const ALLOWED = /^[A-Za-z0-9._~!$&'()*+,;=:/?%-]*$/;
const MAX_PATH_LENGTH = 2048;

/** The upstream URL a path names under `base`, or why it may not be relayed. */
function resolvePath(base: string, path: string): { url: string } | { problem: string } {
  if (!ALLOWED.test(path)) return { problem: 'only URL path characters are allowed (no @, \\, spaces or control characters)' };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path) || path.startsWith('//')) return { problem: 'a scheme or host is not allowed; give a path under the upstream' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.split('?')[0]!);
  } catch {
    return { problem: 'malformed percent-encoding' };
  }
  if (decoded.split(/[/\\]/).some((segment) => segment === '..' || segment === '.')) return { problem: '`.` and `..` segments are not allowed' };
  if (/[@\\]/.test(decoded) || /[\u0000-\u001f]/.test(decoded)) return { problem: 'encoded @, \\ or control characters are not allowed' };
  const url = new URL(path.replace(/^\/+/, ''), base);
  if (!isUnderBase(base, url)) return { problem: 'it leaves the upstream base' };
  return { url: url.href };
}

/** Whether a resolved URL stays under the upstream base: its origin, and its path prefix. */
export function isUnderBase(base: string, url: URL): boolean {
  const baseUrl = new URL(base);
  return url.origin === baseUrl.origin && url.pathname.startsWith(baseUrl.pathname);
}

/**
 * A client's path, given as the upstream URL it names under `base`. The path can never leave the base: no scheme
 * or host (`http://x`, `//x`), no `..` segment (plain or percent-encoded), no `@`, no backslash, nothing outside
 * the base's origin and path prefix once resolved.
 */
export const relayPathInput = (base: string) =>
  z.object({
    path: stringAtMost('path', MAX_PATH_LENGTH).transform((path, ctx) => {
      const resolved = resolvePath(base, path);
      if ('url' in resolved) return resolved.url;
      ctx.addIssue({ code: 'custom', message: `invalid path ${JSON.stringify(path)}: ${resolved.problem}` });
      return z.NEVER;
    }),
  });

/** The id of a restaurant, as a path segment of the upstream's `restaurant/<id>`. */
export const restaurantIdInput = z.object({
  id: stringAtMost('id', 200, 'invalid restaurant id').refine((id) => id !== '', { error: 'invalid restaurant id' }),
});
