import { describe, expect, test } from '@jest/globals';
import net from 'node:net';
import os from 'node:os';
import { loadConfig } from '../../src/config/load-config.js';
import { tempDir } from '../helpers/cache.js';
import { spawnCli } from '../helpers/spawn.js';

describe('--workers / CACHE_WORKERS', () => {
  const workers = (argv: string[], env: Record<string, string> = {}) => loadConfig(argv, env).config.workers;

  test.each([
    [[], {}, 1],
    [['--workers', '2'], {}, 2],
    [[], { CACHE_WORKERS: '3' }, 3],
    [['--workers', '4'], { CACHE_WORKERS: '3' }, 4],
    [['--workers', 'auto'], {}, Math.min(256, os.availableParallelism())],
    [['--workers', 'AUTO'], {}, Math.min(256, os.availableParallelism())],
  ])('%j %j → %i worker(s) (1, the default, is one process with no primary)', (argv, env, expected) => {
    expect(workers(argv, env)).toBe(expected);
  });

  test.each([['0'], ['-1'], ['1.5'], ['two'], ['257'], ['']])(
    '--workers %j is refused with one line, exit 2',
    async (value) => {
      const run = spawnCli(['--workers', value]);
      expect(await run.exited).toBe(2);
      expect(run.stderr()).toMatch(/invalid --workers ".*": expected a number of workers 1-256, or auto/);
      expect(run.stderr().trim().split('\n')).toHaveLength(1);
    },
  );
});

describe('--workers 2 that cannot start', () => {
  test('a port already taken: the primary says so and exits 1, leaving no worker behind', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as net.AddressInfo;
    const dir = await tempDir();
    try {
      const run = spawnCli(['--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--cache-dir', dir.dir]);
      expect(await run.exited).toBe(1);
      expect(run.stdout()).toMatch(/the workers could not start/);
      expect(run.stderr()).toMatch(/EADDRINUSE/);
      const workerPids = [...run.stdout().matchAll(/"pid":(\d+),"hostname":"[^"]*","worker"/g)].map((m) =>
        Number(m[1]),
      );
      for (const pid of workerPids) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      taken.close();
      await dir.cleanup();
    }
  });
});
