import { badInput } from '../errors';
import { checkLength } from '../input';

// Characters a relayed path may use: RFC 3986 path and query characters, without `@` (userinfo) or `\`.
const ALLOWED = /^[A-Za-z0-9._~!$&'()*+,;=:/?%-]*$/;

/**
 * The upstream URL for a client's path. The path can never leave the configured base: no scheme or host
 * (`http://x`, `//x`), no `..` segment (plain or percent-encoded), no `@`, no backslash, nothing outside the
 * base's origin and path prefix once resolved.
 */
export function upstreamUrl(base: string, path: string): string {
  checkLength(path, 2048, 'path');
  const problem = (why: string) => badInput(`invalid path ${JSON.stringify(path)}: ${why}`, { field: 'path' });
  if (!ALLOWED.test(path)) throw problem('only URL path characters are allowed (no @, \\, spaces or control characters)');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path) || path.startsWith('//')) throw problem('a scheme or host is not allowed; give a path under the upstream');
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.split('?')[0]!);
  } catch {
    throw problem('malformed percent-encoding');
  }
  if (decoded.split(/[/\\]/).some((segment) => segment === '..' || segment === '.')) throw problem('`.` and `..` segments are not allowed');
  if (/[@\\]/.test(decoded) || /[\u0000-\u001f]/.test(decoded)) throw problem('encoded @, \\ or control characters are not allowed');
  const baseUrl = new URL(base);
  const url = new URL(path.replace(/^\/+/, ''), baseUrl);
  if (url.origin !== baseUrl.origin || !url.pathname.startsWith(baseUrl.pathname)) throw problem('it leaves the upstream base');
  return url.href;
}
