import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

// Issue 17's guards (eslint.config.js): policy/ stays pure and takes its clock as an argument;
// store/ never reaches up into the proxy or the admin endpoints. Each row lints a line as if it
// were in the file named, with the repository's own config, and names the rule that must fire.
const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const eslint = new ESLint({ cwd: repoRoot });
const POLICY = 'packages/cache-server/src/policy/guard-probe.ts';
const STORE = 'packages/cache-server/src/store/guard-probe.ts';
const PROXY = 'packages/cache-server/src/proxy/guard-probe.ts';

const GUARDS = new Set(['no-restricted-imports', 'no-restricted-properties', 'no-restricted-syntax']);

/** The guard rules that fire on `code` as the content of `file` (other rules, e.g. unused imports, aside). */
async function rulesFired(file, code) {
  const [result] = await eslint.lintText(`${code}\nexport {};\n`, { filePath: path.join(repoRoot, file) });
  const fatal = result.messages.find((message) => message.fatal);
  if (fatal) throw new Error(`the probe does not parse: ${fatal.message}`);
  return result.messages.map((message) => message.ruleId).filter((rule) => GUARDS.has(rule));
}

describe('layer guards in eslint.config.js', () => {
  it.each([
    [POLICY, "import { readFile } from 'node:fs/promises';", 'no-restricted-imports'],
    [POLICY, "import { createHash } from 'crypto';", 'no-restricted-imports'],
    [POLICY, "import type { FastifyRequest } from 'fastify';", 'no-restricted-imports'],
    [POLICY, "import got from 'got';", 'no-restricted-imports'],
    [POLICY, "import type { Redis } from 'ioredis';", 'no-restricted-imports'],
    [POLICY, "import type { Logger } from 'pino';", 'no-restricted-imports'],
    [POLICY, "import type { Store } from '../store/store.js';", 'no-restricted-imports'],
    [POLICY, "import { createProxy } from '../proxy/proxy.js';", 'no-restricted-imports'],
    [POLICY, "import { DEFAULTS } from '../config/defaults.js';", 'no-restricted-imports'],
    [POLICY, 'export const t = Date.now();', 'no-restricted-properties'],
    [POLICY, 'export const t = new Date();', 'no-restricted-syntax'],
    [STORE, "import type { ProxyDeps } from '../proxy/context.js';", 'no-restricted-imports'],
    [STORE, "import { tagsOf } from '../../admin/tags.js';", 'no-restricted-imports'],
  ])('%s: `%s` is refused (%s)', async (file, code, rule) => {
    expect(await rulesFired(file, code)).toContain(rule);
  });

  it.each([
    [POLICY, "import { readField } from './cache-control.js';"],
    [POLICY, "import type { EntryMeta } from '@simple-cache/common';"],
    [POLICY, 'export const t = (now: number) => new Date(now);'],
    [STORE, "import { createHash } from 'node:crypto';"],
    [STORE, "import type { ByteRange } from '../policy/range.js';"],
    [PROXY, 'export const t = Date.now();'],
    [PROXY, "import type { Store } from '../store/store.js';"],
  ])('%s: `%s` is allowed', async (file, code) => {
    expect(await rulesFired(file, code)).toEqual([]);
  });
});

describe('the size of proxy/ files (issue 17: split a proxy/ file before 300 lines)', () => {
  const proxyDir = path.join(repoRoot, 'packages/cache-server/src/proxy');
  const files = readdirSync(proxyDir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ts'));

  it('finds the proxy/ files', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files)('proxy/%s is under 300 lines', (name) => {
    const lines = readFileSync(path.join(proxyDir, name), 'utf8').split('\n').length - 1;
    expect(lines).toBeLessThan(300);
  });
});

describe('the size of the other src/ files (STYLE.md: split a file before ~400 lines)', () => {
  const srcDir = path.join(repoRoot, 'packages/cache-server/src');
  /**
   * Over 400 lines today (store/ on-disk format and hot reads): to be split. Listed so that no
   * other file joins it unnoticed. (redis/redis-store.ts was split: redis-open.ts, redis-removals.ts.)
   */
  const EXCEPTIONS = new Set(['store/disk-store.ts']);
  const files = readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter(
    (name) => name.endsWith('.ts') && !name.startsWith('proxy/') && !EXCEPTIONS.has(name),
  );

  it('finds the files', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it.each(files)('%s is under 400 lines', (name) => {
    const lines = readFileSync(path.join(srcDir, name), 'utf8').split('\n').length - 1;
    expect(lines).toBeLessThan(400);
  });
});
