#!/usr/bin/env node
// Checks the documentation's links: every relative link in README.md and docs/*.md points at a file
// that exists and, with a #fragment, at a heading that exists there (GitHub's anchor rules); every
// docs page can be reached from the README. External links (http:, https:, mailto:) are not
// fetched: the test command must not depend on the network. Exit code 1 lists what is broken.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** GitHub's heading anchor: lower case, punctuation dropped (not `-` or `_`), spaces to hyphens. */
export function slugOf(heading) {
  return heading
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Markdown text without fenced code blocks, where `#` and link syntax are only text. */
function withoutFences(text) {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** …and without inline code either. */
function withoutCode(text) {
  return withoutFences(text).replace(/`[^`\n]*`/g, '');
}

/** The anchors a Markdown file defines: its headings' slugs (repeats get -1, -2, …). */
export function anchorsOf(text) {
  const anchors = new Set();
  const seen = new Map();
  for (const line of withoutFences(text).split('\n')) {
    const match = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!match) continue;
    const slug = slugOf(match[1]);
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  for (const match of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(match[1]);
  return anchors;
}

/** Every link target in a Markdown text (inline links and images), outside code. */
export function linksOf(text) {
  const links = [];
  for (const match of withoutCode(text).matchAll(
    /!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
  )) {
    links.push(match[1]);
  }
  return links;
}

/** Checks `files` (paths relative to `root`); returns the problems found, one line each. */
export function checkLinks(root, files, { entry = 'README.md' } = {}) {
  const problems = [];
  const texts = new Map(files.map((file) => [file, readFileSync(path.join(root, file), 'utf8')]));
  const anchorCache = new Map();
  const anchorsIn = (file) => {
    if (!anchorCache.has(file)) anchorCache.set(file, anchorsOf(readFileSync(path.join(root, file), 'utf8')));
    return anchorCache.get(file);
  };
  const linkedFrom = new Map(files.map((file) => [file, new Set()]));
  for (const [file, text] of texts) {
    for (const link of linksOf(text)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue;
      const [rawTarget, fragment] = link.split('#', 2);
      const target = rawTarget === '' ? file : path.normalize(path.join(path.dirname(file), decodeURI(rawTarget)));
      if (target.startsWith('..')) {
        problems.push(`${file}: ${link} leaves the repository`);
        continue;
      }
      if (!existsSync(path.join(root, target))) {
        problems.push(`${file}: ${link} → ${target} does not exist`);
        continue;
      }
      linkedFrom.get(target)?.add(file);
      if (fragment !== undefined && target.endsWith('.md') && !anchorsIn(target).has(fragment)) {
        problems.push(`${file}: ${link} → no heading #${fragment} in ${target}`);
      }
    }
  }
  // Every page is reachable from the entry page through links.
  const reached = new Set([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const current = queue.shift();
    for (const [file, from] of linkedFrom) {
      if (from.has(current) && !reached.has(file)) {
        reached.add(file);
        queue.push(file);
      }
    }
  }
  for (const file of files) if (!reached.has(file)) problems.push(`${file}: not reachable from ${entry}`);
  return problems;
}

/** README.md and every Markdown file under docs/. */
export function documentationFiles(root) {
  const files = ['README.md'];
  const walk = (dir) => {
    for (const name of readdirSync(path.join(root, dir)).sort()) {
      const relative = path.join(dir, name);
      if (statSync(path.join(root, relative)).isDirectory()) walk(relative);
      else if (name.endsWith('.md')) files.push(relative);
    }
  };
  if (existsSync(path.join(root, 'docs'))) walk('docs');
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = path.resolve(import.meta.dirname, '..');
  const files = documentationFiles(root);
  const problems = checkLinks(root, files);
  if (problems.length > 0) {
    console.error(`Broken documentation links (${problems.length}):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    process.exit(1);
  }
  console.log(`Documentation links: ${files.length} files checked, all links resolve.`);
}
