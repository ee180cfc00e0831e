import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { admin, metricValue, PREFIX } from './helpers/admin.js';
import { startTestCache, tempDir } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';
import { spawnCli } from './helpers/spawn.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let origin: TestOrigin;
beforeAll(async () => {
  dir = await tempDir('simple-cache-reload-');
  origin = await startTestOrigin({});
});
afterAll(async () => {
  await origin?.close();
  await dir?.cleanup();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A log destination the test can read: one parsed JSON object per line. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('POST <admin>/config/reload and GET <admin>/config', () => {
  const first = [
    'grace: 1m',
    'max-size: 1GiB',
    'admin-token: first-token',
    'rules:',
    '  - name: api',
    '    match: { path: /api/** }',
    '    bypass: true',
  ].join('\n');

  test('a valid file is swapped in; an invalid one keeps the running config and answers 400 naming the line', async () => {
    const file = path.join(dir.dir, 'live.yaml');
    await writeFile(file, first);
    const { logger, lines } = capturedLogger();
    const cache = await startTestCache(
      { origin: origin.url, cacheDir: path.join(dir.dir, 'c1'), configFile: file },
      { logger },
    );
    const token = 'first-token';
    try {
      const before = await admin(cache.url, `${PREFIX}/config`);
      expect(before.status).toBe(200);
      expect(before.json).toMatchObject({ file, hash: sha256(first) });
      expect(Date.parse(before.json.loadedAt as string)).toBeGreaterThan(0);
      const shown = before.json.config as Record<string, unknown>;
      expect(shown).toMatchObject({ grace: '60s', 'max-size': '1GiB', 'admin-token': '(redacted)' });
      expect(shown.rules).toEqual([{ name: 'api', match: { path: '/api/**' }, bypass: true }]);
      expect(before.body.toString()).not.toContain('first-token');

      // Rules and grace change at run time; max-size was used to build the store: it needs a restart.
      const second = first.replace('grace: 1m', 'grace: 5m').replace('1GiB', '2GiB').replace('/api/**', '/v2/**');
      await writeFile(file, second);
      const reloaded = await admin(cache.url, `${PREFIX}/config/reload`, { method: 'POST', token });
      expect(reloaded.status).toBe(200);
      expect(reloaded.json).toMatchObject({
        reloaded: true,
        hash: sha256(second),
        applied: ['grace', 'rules'],
        needsRestart: ['max-size'],
      });
      const after = (await admin(cache.url, `${PREFIX}/config`)).json;
      expect(after.hash).toBe(sha256(second));
      expect(after.config).toMatchObject({ grace: '300s', 'max-size': '1GiB' });
      expect((after.config as { rules: unknown[] }).rules).toEqual([
        { name: 'api', match: { path: '/v2/**' }, bypass: true },
      ]);
      expect(cache.live.current.policy.grace).toBe(300);
      expect(cache.live.current.rules.forRequest('GET', `${origin.url}/v2/x`).bypass).toBe('api');

      await writeFile(file, `${second}\n    ttl: whenever\n`);
      const refused = await admin(cache.url, `${PREFIX}/config/reload`, { method: 'POST', token });
      expect(refused.status).toBe(400);
      expect(refused.json).toEqual({
        error: 'CACHE_ERR_BAD_CONFIG',
        message: `${file}:8 rules[0].ttl: expected a duration such as 5m, 30s, 1d or a number of seconds`,
      });
      expect((await admin(cache.url, `${PREFIX}/config`)).json.hash).toBe(sha256(second));
      expect(cache.live.current.rules.forRequest('GET', `${origin.url}/v2/x`).bypass).toBe('api');

      const failures = lines.filter((line) => line.msg === 'config reload failed; the running config stays');
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ level: 50, code: 'CACHE_ERR_BAD_CONFIG', file });
      expect(lines.filter((line) => String(line.msg).startsWith('config reloaded'))).toHaveLength(1);

      const metrics = (await admin(cache.url, `${PREFIX}/metrics`)).body.toString();
      expect(metricValue(metrics, 'simple_cache_config_reloads_total', { result: 'ok' })).toBe(1);
      expect(metricValue(metrics, 'simple_cache_config_reloads_total', { result: 'invalid' })).toBe(1);
      expect(metricValue(metrics, 'simple_cache_config_loaded_timestamp_seconds')).toBeCloseTo(
        Date.parse(after.loadedAt as string) / 1000,
      );
    } finally {
      await cache.close();
    }
  });

  test('reloading is an admin call: refused without the token, and a GET cannot do it', async () => {
    const file = path.join(dir.dir, 'guarded.yaml');
    await writeFile(file, first);
    const cache = await startTestCache(
      { origin: origin.url, cacheDir: path.join(dir.dir, 'c2'), configFile: file },
      { logger: pino({ level: 'silent' }) },
    );
    try {
      const refused = await admin(cache.url, `${PREFIX}/config/reload`, { method: 'POST' });
      expect(refused.status).toBe(401);
      expect(refused.json.error).toBe('CACHE_ERR_ADMIN_UNAUTHORIZED');
      expect((await admin(cache.url, `${PREFIX}/config/reload`, { method: 'POST', token: 'wrong' })).status).toBe(401);
      const got = await admin(cache.url, `${PREFIX}/config/reload`);
      expect(got.status).toBe(405);
      expect(got.headers.allow).toBe('POST');
      const metrics = (await admin(cache.url, `${PREFIX}/metrics`)).body.toString();
      expect(metricValue(metrics, 'simple_cache_config_reloads_total', { result: 'ok' })).toBe(0);
    } finally {
      await cache.close();
    }
  });

  test('without a config file, GET config says so and a reload changes nothing', async () => {
    const cache = await startTestCache(
      { origin: origin.url, cacheDir: path.join(dir.dir, 'c3') },
      { logger: pino({ level: 'silent' }) },
    );
    try {
      const shown = await admin(cache.url, `${PREFIX}/config`);
      expect(shown.json).toMatchObject({ file: null, hash: null });
      const reloaded = await admin(cache.url, `${PREFIX}/config/reload`, { method: 'POST' });
      expect(reloaded.json).toMatchObject({ reloaded: true, applied: [], needsRestart: [] });
    } finally {
      await cache.close();
    }
  });
});

describe('SIGHUP', () => {
  test('re-reads the file: a valid one is applied, an invalid one logs one line and changes nothing', async () => {
    const file = path.join(dir.dir, 'hup.yaml');
    const valid = 'grace: 1m\nrules:\n  - { name: api, match: { path: /api/** }, bypass: true }\n';
    await writeFile(file, valid);
    const run = spawnCli(['0', '--host', '127.0.0.1', '--origin', origin.url, '--config', file], {
      CACHE_DIR: path.join(dir.dir, 'c4'),
    });
    try {
      const url = await run.listening();
      const changed = valid.replace('grace: 1m', 'grace: 2m');
      await writeFile(file, changed);
      run.child.kill('SIGHUP');
      await waitFor(() => run.stdout().includes('"msg":"config reloaded"'), 'the reload to be logged');
      expect((await admin(url, `${PREFIX}/config`)).json).toMatchObject({
        hash: sha256(changed),
        config: { grace: '120s' },
      });

      await writeFile(file, 'grace: soon\n');
      run.child.kill('SIGHUP');
      await waitFor(() => run.stdout().includes('config reload failed'), 'the failed reload to be logged');
      const failed = run
        .stdout()
        .split('\n')
        .filter((line) => line.includes('config reload failed'));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toContain(`${file}:1 grace: expected a duration`);
      expect((await admin(url, `${PREFIX}/config`)).json).toMatchObject({
        hash: sha256(changed),
        config: { grace: '120s' },
      });
      expect(run.child.exitCode).toBeNull();
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });
});
