import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { anchorsOf, checkLinks, documentationFiles, linksOf, slugOf } from '../check-links.mjs';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
let dir;

function site(files) {
  dir = mkdtempSync(path.join(os.tmpdir(), 'check-links-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return checkLinks(dir, documentationFiles(dir));
}

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the documentation of this repository', () => {
  it('has no broken link and every docs page is reachable from the README', () => {
    expect(checkLinks(repoRoot, documentationFiles(repoRoot))).toEqual([]);
  });
});

describe('slugOf: GitHub heading anchors', () => {
  it.each([
    ['Quick start', 'quick-start'],
    ['In Redis (`--store redis://…`)', 'in-redis---store-redis'],
    ['The rules (RFC 9111, 5861, 9211, 9213)', 'the-rules-rfc-9111-5861-9211-9213'],
    ['`X-Cache`', 'x-cache'],
    ['Age, Via, X_Cache-Error', 'age-via-x_cache-error'],
  ])('%s → #%s', (heading, slug) => {
    expect(slugOf(heading)).toBe(slug);
  });

  it('numbers repeated headings as GitHub does', () => {
    expect([...anchorsOf('# A\n## A\n### A\n')]).toEqual(['a', 'a-1', 'a-2']);
  });

  it('ignores headings and links inside fenced code', () => {
    const text = '```sh\n# not a heading\n[x](missing.md)\n```\n# Real\n';
    expect([...anchorsOf(text)]).toEqual(['real']);
    expect(linksOf(text)).toEqual([]);
  });
});

describe('checkLinks finds what is broken', () => {
  it('a missing file, a missing anchor, an unreachable page, a link out of the repository', () => {
    const problems = site({
      'README.md': '# Top\n[a](docs/a.md) [b](docs/a.md#nowhere) [c](docs/gone.md) [d](../outside.md) [e](#top)\n',
      'docs/a.md': '# A\n[back](../README.md#top) ![pic](../media/x.png)\n',
      'docs/orphan.md': '# Orphan\n',
    });
    expect(problems).toEqual([
      'README.md: docs/a.md#nowhere → no heading #nowhere in docs/a.md',
      'README.md: docs/gone.md → docs/gone.md does not exist',
      'README.md: ../outside.md leaves the repository',
      'docs/a.md: ../media/x.png → media/x.png does not exist',
      'docs/orphan.md: not reachable from README.md',
    ]);
  });

  it('accepts external links without fetching them', () => {
    expect(site({ 'README.md': '[rfc](https://www.rfc-editor.org/rfc/rfc9111) <mailto:x@y>\n' })).toEqual([]);
  });
});
