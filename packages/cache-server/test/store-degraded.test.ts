import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startTestCache, type StartedCache } from './helpers/cache.js';
import type { StoreOverrides } from '../src/compose-store.js';
import { createTestFs } from './store/test-fs.js';
import { request, waitFor } from './helpers/http.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { healthOf } from '../src/store/store.js';

/** 100 KiB per path, the same bytes every time: what the cache must relay whether it can store or not. */
function bodyOf(urlPath: string): Buffer {
  const seed = createHash('sha256').update(urlPath).digest();
  return Buffer.concat(Array.from({ length: 100 * 32 }, (_, i) => seed.subarray(0, 32).map((b) => b ^ (i & 0xff))));
}

/**
 * A cache directory whose disk can be filled and freed again. Where we may mount (root, on
 * Linux) it is a real 4 MiB tmpfs, filled with a ballast file, so the failures are the kernel's
 * own ENOSPC. Elsewhere the store gets a file system that fails writes with ENOSPC on demand
 * (test/store/test-fs.ts): the same behaviour, simulated at the store's fs boundary.
 */
interface Disk {
  dir: string;
  kind: 'tmpfs' | 'simulated';
  overrides: StoreOverrides;
  fill(): Promise<void>;
  free(): Promise<void>;
  cleanup(): Promise<void>;
}

async function createDisk(): Promise<Disk> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'simple-cache-full-'));
  const dir = path.join(root, 'cache');
  await mkdir(dir);
  const overrides: StoreOverrides = { retryDelay: 100 };
  try {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('not root');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    const testFs = createTestFs();
    return {
      dir,
      kind: 'simulated',
      overrides: { ...overrides, fs: testFs.fs },
      fill: async () => testFs.fail('ENOSPC'),
      free: async () => testFs.fail(undefined),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  }
  const ballast = path.join(dir, 'ballast');
  return {
    dir,
    kind: 'tmpfs',
    overrides,
    async fill() {
      const handle = await open(ballast, 'w');
      const chunk = Buffer.alloc(64 * 1024, 1);
      try {
        for (;;) await handle.write(chunk);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOSPC') throw err;
      } finally {
        await handle.close();
      }
    },
    free: () => unlink(ballast),
    async cleanup() {
      execFileSync('umount', [dir], { stdio: 'ignore' });
      await rm(root, { recursive: true, force: true });
    },
  };
}

interface LogLine {
  level: number;
  msg: string;
}

describe('a full disk: the cache passes responses through, says so once, and recovers by itself', () => {
  let origin: TestOrigin;
  let disk: Disk;
  let cache: StartedCache;
  const lines: LogLine[] = [];

  beforeEach(async () => {
    origin = await startTestOrigin({
      '*': (req, res) => {
        const body = bodyOf(req.url ?? '/');
        res.writeHead(200, { 'content-length': body.length, 'cache-control': 'max-age=600' });
        res.end(body);
      },
    });
    disk = await createDisk();
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
    cache = await startTestCache({ origin: origin.url, cacheDir: disk.dir }, { logger, store: disk.overrides });
  });
  afterEach(async () => {
    await cache.close();
    await origin.close();
    await disk.cleanup();
  });

  /** GET through the cache; checks the bytes, waits until any store write has finished, returns X-Cache. */
  async function get(urlPath: string) {
    const reply = await request(cache.url, urlPath);
    expect(reply.status).toBe(200);
    expect(reply.body.equals(bodyOf(urlPath))).toBe(true);
    await waitFor(() => cache.proxy.inFlight.size === 0, 'the store write to finish');
    return reply.headers['x-cache'];
  }

  test('200s from the origin while full, one error line, entries stored again once space returns', async () => {
    expect([await get('/before'), await get('/before')]).toEqual(['MISS', 'HIT']);

    await disk.fill();
    const seenWhileFull: unknown[] = [];
    for (let i = 0; i < 10; i++) seenWhileFull.push(await get(`/full/${i}`), await get(`/full/${i}`));
    expect(seenWhileFull.every((xCache) => xCache === 'MISS')).toBe(true);
    // What was stored before is still served.
    expect(await get('/before')).toBe('HIT');
    expect(healthOf(cache.store)).toMatchObject({ state: 'degraded', code: 'ENOSPC' });
    const errors = lines.filter((line) => line.level >= 50);
    expect(errors).toEqual([expect.objectContaining({ msg: expect.stringContaining('cannot be written (ENOSPC)') })]);

    await disk.free();
    let n = 0;
    await waitFor(async () => {
      n += 1;
      await get(`/after/${n}`);
      return (await get(`/after/${n}`)) === 'HIT';
    }, 'an entry to be stored again');
    expect(healthOf(cache.store)).toEqual({ state: 'ok' });
    expect(lines.some((line) => line.msg === 'the cache directory is writable again; storing resumed')).toBe(true);
    expect(lines.filter((line) => line.level >= 50)).toHaveLength(1);
  });
});
