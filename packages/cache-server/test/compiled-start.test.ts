/**
 * `pnpm start` runs compiled JavaScript (packages/*\/dist, built by scripts/build.mjs), not the
 * sources the other tests run: the compiled origin and cache must find each other's packages
 * (the "simple-cache-compiled" export condition), the dashboard's files and the demo site.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { buildIfStale } from '../../../scripts/build.mjs';
import { tempDir } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';
import { spawnCompiledCli, type Spawned } from './helpers/spawn.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
const running: Spawned[] = [];

beforeAll(async () => {
  // A no-op (one stat per source file) unless a source changed since the last build.
  expect(buildIfStale()).toBe(true);
  dir = await tempDir();
});

afterAll(async () => {
  for (const server of running) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  await dir?.cleanup();
});

function start(pkg: 'cache-server' | 'main-server', args: string[]): Spawned {
  const server = spawnCompiledCli(pkg, [...args, '0', '--host', '127.0.0.1'], { CACHE_LOG_LEVEL: 'info' });
  running.push(server);
  return server;
}

test('the compiled origin serves the demo site and the compiled cache stores it and serves its dashboard', async () => {
  const origin = await start('main-server', []).listening();
  const cache = await start('cache-server', ['--origin', origin, '--cache-dir', dir.dir]).listening();

  const first = await fetch(`${cache}/`);
  expect(first.status).toBe(200);
  expect(await first.text()).toContain('<html');
  expect(first.headers.get('x-cache')).toBe('MISS');
  // The entry becomes visible when its write commits, just after the last byte went out.
  await waitFor(async () => {
    const again = await fetch(`${cache}/`, { method: 'HEAD', headers: { 'cache-control': 'only-if-cached' } });
    return again.headers.get('x-cache') === 'HIT';
  }, 'the page to be stored');

  const dashboard = await fetch(`${cache}/_cache/`);
  expect(dashboard.status).toBe(200);
  expect(dashboard.headers.get('content-type')).toMatch(/^text\/html/);
});

test('the demo’s example config shows rules at work: a cached /favicon.ico 404 and a bypassed folder', async () => {
  const example = new URL('../../../examples/simple-cache.yaml', import.meta.url).pathname;
  const origin = await start('main-server', []).listening();
  const cache = await start('cache-server', [
    '--config',
    example,
    '--origin',
    origin,
    '--cache-dir',
    `${dir.dir}/demo`,
  ]).listening();

  const miss = await fetch(`${cache}/favicon.ico`);
  expect([miss.status, miss.headers.get('x-cache')]).toEqual([404, 'MISS']);
  expect(miss.headers.get('cache-status')).toContain('detail=favicon-404');
  await waitFor(
    async () => (await fetch(`${cache}/favicon.ico`)).headers.get('x-cache') === 'HIT',
    'the 404 to be stored',
  );

  for (let i = 0; i < 2; i++) {
    const live = await fetch(`${cache}/files/more/readme.txt`);
    expect([live.status, live.headers.get('x-cache')]).toEqual([200, 'BYPASS']);
    expect(live.headers.get('cache-status')).toContain('detail=api');
  }
});
