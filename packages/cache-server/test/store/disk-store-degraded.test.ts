import { describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { DiskStore } from '../../src/store/disk-store.js';
import { makeTempDir } from './disk-helpers.js';
import { makeMeta, readBody, writeEntry } from './store-helpers.js';
import { createTestFs } from './test-fs.js';

const KEY = 'http://origin.test/page';
const RETRY = 1000;

interface LogLine {
  level: number;
  msg: string;
  code?: string;
}

/** A pino logger whose lines land in an array (30 = info, 40 = warn, 50 = error). */
function captureLogs(): { logger: pino.Logger; lines: LogLine[]; at(level: number): LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines, at: (level) => lines.filter((line) => line.level === level) };
}

/** A disk store on a file system that can be made to fail, with a hand-driven clock and captured logs. */
async function setUp() {
  const temp = await makeTempDir();
  const testFs = createTestFs();
  const logs = captureLogs();
  let now = 1_000_000;
  const store = await DiskStore.open({
    dir: temp.dir,
    maxSize: 1e6,
    fs: testFs.fs,
    logger: logs.logger,
    now: () => now,
    retryDelay: RETRY,
  });
  return {
    store,
    testFs,
    logs,
    advance: (ms: number) => (now += ms),
    cleanup: async () => {
      await store.close();
      await temp.cleanup();
    },
  };
}

describe('DiskStore on a full or read-only disk: degraded mode', () => {
  test.each([
    ['full (ENOSPC on write)', 'ENOSPC'],
    ['over quota (EDQUOT on write)', 'EDQUOT'],
    ['read-only (EROFS on open)', 'EROFS'],
    ['not permitted (EACCES on open)', 'EACCES'],
  ] as const)('%s: one error, writes refused without I/O, reads go on, recovery by itself', async (_label, code) => {
    const { store, testFs, logs, advance, cleanup } = await setUp();
    try {
      const kept = await writeEntry(store, makeMeta(`${KEY}/kept`), 'stored before the trouble');
      testFs.fail(code);

      // The first failure: the write fails with the disk's error and the store says so once.
      await expect(writeEntry(store, makeMeta(KEY), 'first')).rejects.toMatchObject({ code });
      expect(store.health()).toMatchObject({ state: 'degraded', code });
      expect(logs.at(50)).toEqual([expect.objectContaining({ code, msg: expect.stringContaining(code) })]);

      // While degraded: writes are refused up front, with no file-system call and no log line.
      testFs.resetCounts();
      for (let i = 0; i < 20; i++) {
        const writer = store.beginWrite(makeMeta(`${KEY}/${i}`));
        expect(writer.body.destroyed).toBe(true);
        await expect(writer.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_STORE_DEGRADED' });
      }
      await store.updateMeta({ ...kept, status: 299 });
      expect(testFs.total()).toBe(0);

      // What is stored is still served.
      const [found] = await store.lookup(`${KEY}/kept`);
      expect(found?.status).toBe(200);
      expect((await readBody(store, found!)).toString()).toBe('stored before the trouble');

      // After the retry delay one write probes the disk; still failing: still one error line.
      advance(RETRY);
      await expect(writeEntry(store, makeMeta(KEY), 'probe')).rejects.toMatchObject({ code });
      expect(store.beginWrite(makeMeta(KEY)).body.destroyed).toBe(true);
      expect(logs.at(50)).toHaveLength(1);

      // Space returns: the next probe (the delay has doubled) succeeds and ends degraded mode.
      testFs.fail(undefined);
      advance(RETRY);
      expect(store.beginWrite(makeMeta(KEY)).body.destroyed).toBe(true);
      advance(RETRY);
      const stored = await writeEntry(store, makeMeta(KEY), 'after recovery');
      expect(store.health()).toEqual({ state: 'ok' });
      expect(logs.at(30).map((line) => line.msg)).toContain('the cache directory is writable again; storing resumed');
      expect(await store.lookup(KEY)).toEqual([stored]);
      await writeEntry(store, makeMeta(`${KEY}/next`), 'writes flow again');
      expect(logs.at(50)).toHaveLength(1);
    } finally {
      await cleanup();
    }
  });

  test('errors that are not disk trouble leave the store healthy', async () => {
    const { store, logs, cleanup } = await setUp();
    try {
      await expect(writeEntry(store, makeMeta(KEY, { size: 99 }), 'short')).rejects.toMatchObject({
        code: 'CACHE_ERR_SIZE_MISMATCH',
      });
      const writer = store.beginWrite(makeMeta(KEY));
      writer.body.destroy(new Error('origin reset'));
      await expect(writer.commit()).rejects.toThrow('origin reset');
      expect(store.health()).toEqual({ state: 'ok' });
      expect(logs.at(50)).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  test('a failed metadata update (304 freshening) also switches to degraded mode', async () => {
    const { store, testFs, cleanup } = await setUp();
    try {
      const entry = await writeEntry(store, makeMeta(KEY), 'body');
      testFs.fail('ENOSPC');
      await expect(store.updateMeta({ ...entry, status: 203 })).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(store.health()).toMatchObject({ state: 'degraded' });
      expect((await store.lookup(KEY))[0]?.status).toBe(200);
    } finally {
      await cleanup();
    }
  });

  test('a cache directory that cannot be written at start-up: the store opens degraded', async () => {
    const temp = await makeTempDir();
    const testFs = createTestFs();
    const logs = captureLogs();
    testFs.fail('EROFS');
    const store = await DiskStore.open({ dir: temp.dir, maxSize: 1e6, fs: testFs.fs, logger: logs.logger });
    try {
      expect(store.health()).toMatchObject({ state: 'degraded', code: 'EROFS' });
      expect(await store.lookup(KEY)).toEqual([]);
      await expect(store.beginWrite(makeMeta(KEY)).commit()).rejects.toMatchObject({
        code: 'CACHE_ERR_STORE_DEGRADED',
      });
      expect(logs.at(50)).toHaveLength(1);
    } finally {
      await store.close();
      await temp.cleanup();
    }
  });

  test('closing on a read-only disk gives up persisting recency after the first failure', async () => {
    const { store, testFs, logs, cleanup } = await setUp();
    for (let i = 0; i < 10; i++) store.markUsed(await writeEntry(store, makeMeta(`${KEY}/${i}`), 'x'));
    testFs.fail('EROFS');
    await cleanup();
    expect(logs.lines.filter((line) => line.msg === 'cannot persist recency')).toHaveLength(1);
    expect(logs.at(50)).toHaveLength(1);
  });
});
