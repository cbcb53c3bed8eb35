// Every relative link in README.md and docs/ leads somewhere in this repository: the file exists, and an anchor
// (`page.md#section`, `#section`) names one of that page's headings as GitHub spells it. A link that leaves the
// repository (`../shared/…`) is broken in a user's clone, so it fails too. Web links (https:) are not fetched.
import { describe, expect, test } from 'bun:test';
import { Glob } from 'bun';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dir, '..');

/** The documentation pages, relative to the repository root. */
const pages = () => ['README.md', ...[...new Glob('docs/**/*.md').scanSync(ROOT)].sort()];

/** Code (fenced blocks and `inline` spans) blanked: a `[x](y)` shown as code is not a link. */
const withoutCode = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');

/** Each `[text](target)` and `[text]: target` outside code. */
function linksOf(text: string): string[] {
  const code = withoutCode(text);
  const inline = [...code.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
  const references = [...code.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((match) => match[1]!);
  return [...inline, ...references];
}

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2… */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of withoutCode(text).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count ? `${slug}-${count}` : slug);
  }
  return anchors;
}

/** What is wrong with each relative link of `page` (relative to `root`), read from `text`. */
function brokenLinks(root: string, page: string, text: string, read = (path: string) => readFileSync(path, 'utf8')): string[] {
  const problems: string[] = [];
  for (const link of linksOf(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
    const [path, anchor] = link.split('#') as [string, string | undefined];
    const target = path ? resolve(root, dirname(page), decodeURIComponent(path)) : join(root, page);
    const inside = relative(root, target);
    if (inside.startsWith('..')) {
      problems.push(`${page}: ${link} leaves the repository`);
      continue;
    }
    if (!existsSync(target)) {
      problems.push(`${page}: ${link} — no such file`);
      continue;
    }
    if (anchor && target.endsWith('.md') && !anchorsOf(read(target)).has(decodeURIComponent(anchor).toLowerCase())) {
      problems.push(`${page}: ${link} — no heading for #${anchor} in ${inside}`);
    }
  }
  return problems;
}

describe('documentation links', () => {
  test('every relative link in README.md and docs/ resolves, anchors included', () => {
    const problems = pages().flatMap((page) => brokenLinks(ROOT, page, readFileSync(join(ROOT, page), 'utf8')));
    expect(problems).toEqual([]);
  });

  test('every page of docs/ is linked from README.md or another page: none is left unreachable', () => {
    const linked = new Set(
      pages().flatMap((page) =>
        linksOf(readFileSync(join(ROOT, page), 'utf8'))
          .map((link) => relative(ROOT, resolve(ROOT, dirname(page), link.split('#')[0]!)))
          .filter((target) => target !== page),
      ),
    );
    expect(pages().filter((page) => page !== 'README.md' && !linked.has(page))).toEqual([]);
  });

  test('README.md stays a front page: at most 300 lines', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(300);
  });

  test('a missing file, a missing anchor and a link out of the repository are each caught; code is not a link', () => {
    const text = [
      '# Start here',
      '## The API, at a glance',
      '[ok](docs/api.md) [ok too](#the-api-at-a-glance) [web](https://bun.sh) [self](README.md#start-here)',
      '[gone](docs/nothing.md) [no anchor](#nowhere) [out](../shared/specs/api.md) [deep](docs/api.md#no-such-heading)',
      '`[code](docs/nothing.md)`',
      '```',
      '[fenced](docs/nothing.md)',
      '```',
      '[ref]: docs/missing.md',
    ].join('\n');
    const problems = brokenLinks(ROOT, 'README.md', text, (path) => (path.endsWith('README.md') ? text : readFileSync(path, 'utf8')));
    expect(problems).toEqual([
      'README.md: docs/nothing.md — no such file',
      'README.md: #nowhere — no heading for #nowhere in README.md',
      'README.md: ../shared/specs/api.md leaves the repository',
      'README.md: docs/api.md#no-such-heading — no heading for #no-such-heading in docs/api.md',
      'README.md: docs/missing.md — no such file',
    ]);
  });
});
