// @system-packages redis-server
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pino } from 'pino';
import type { Invalidation } from '../../src/store/redis/invalidation-bus.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { makeMeta, readBody, writeEntry } from '../store/store-helpers.js';
import { openRedisStore } from './redis-helpers.js';

const KEY = 'http://origin.test/outage';
/**
 * A call must fail without waiting for Redis: never for a reply (the command timeout, set far
 * above this bound so the two cannot be confused on a loaded machine) nor for a reconnection.
 */
const FAST_MS = 5_000;
const connection = { commandTimeoutMs: 60_000 };
const gate = { timeoutMs: 60_000 };

let server: RedisServer;
let store: RedisStore;
let other: RedisStore;
const logLines: { level: number; msg: string }[] = [];
const otherEvents: Invalidation[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
  store = await openRedisStore(server, { logger, connection, gate });
  other = await openRedisStore(server, { connection, gate });
  other.bus.subscribe((event) => otherEvents.push(event));
});
afterAll(async () => {
  await Promise.all([store.close(), other.close()]);
  await server.cleanup();
});

async function settlesQuickly<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  const started = Date.now();
  const [result] = await Promise.allSettled([promise]);
  expect(Date.now() - started).toBeLessThan(FAST_MS);
  return result;
}

describe('Redis goes away and comes back', () => {
  test('calls fail fast with one error logged, then the store heals by itself', async () => {
    const entry = await writeEntry(store, makeMeta(KEY), 'before the outage');
    await server.stop();

    for (const call of <(() => Promise<unknown>)[]>[
      () => store.lookup(KEY),
      () => store.openBody(entry),
      () => store.updateMeta(entry),
      () => store.delete(KEY),
      () => store.lookup(`${KEY}/2`),
    ]) {
      expect((await settlesQuickly(call())).status).toBe('rejected');
    }
    expect(() => store.markUsed(entry)).not.toThrow();

    // A write's body closes quietly (a tee drops it, the client's response goes on); commit rejects.
    const writer = store.beginWrite(makeMeta(KEY, { size: 600_000 }));
    const bodyErrors: unknown[] = [];
    writer.body.on('error', (err) => bodyErrors.push(err));
    await pipeline(Readable.from([Buffer.alloc(300_000, 1), Buffer.alloc(300_000, 2)]), writer.body).catch(
      () => undefined,
    );
    expect((await settlesQuickly(writer.commit())).status).toBe('rejected');
    expect(bodyErrors).toEqual([]);
    // The client may see the socket unwritable a moment before it handles the close (under load).
    await waitFor(() => store.health().state === 'degraded', 'the outage to be noticed');
    expect(store.health()).toMatchObject({ state: 'degraded', code: expect.any(String) });
    await expect(store.beginWrite(makeMeta(KEY)).commit()).rejects.toMatchObject({ code: 'CACHE_ERR_STORE_DEGRADED' });

    const errors = () => logLines.filter((line) => line.level >= 50);
    await waitFor(() => errors().length > 0, 'the outage to be logged');
    expect(errors()[0]!.msg).toMatch(/Redis \S+ is unavailable \(connection\)/);

    await server.restart();
    await waitFor(
      () =>
        store.lookup(KEY).then(
          () => true,
          () => false,
        ),
      'the store to reconnect',
    );
    expect(store.health()).toEqual({ state: 'ok' });
    const again = await writeEntry(store, makeMeta(KEY), 'after the outage');
    expect((await readBody(store, again)).toString()).toBe('after the outage');
    // One line for the whole outage, however many reconnect attempts failed meanwhile.
    expect(errors()).toHaveLength(1);
    expect(logLines.some((line) => /answers again/.test(line.msg))).toBe(true);
    // Messages may have been missed meanwhile: the other node's memory tier is told to drop everything.
    await waitFor(() => otherEvents.some((event) => event.kind === 'all'), 'a resync event');
    expect(otherEvents).toContainEqual({ kind: 'all', reason: 'resync' });
  });

  test('a store opened while Redis is down starts at once, and works once Redis is up', async () => {
    await server.stop();
    const started = Date.now();
    const late = await openRedisStore(server, { connection, gate });
    try {
      expect(Date.now() - started).toBeLessThan(FAST_MS);
      expect((await settlesQuickly(late.lookup(KEY))).status).toBe('rejected');
      await server.restart();
      await waitFor(
        () =>
          late.lookup(KEY).then(
            () => true,
            () => false,
          ),
        'the late store to connect',
      );
      const entry = await writeEntry(late, makeMeta(KEY), 'late');
      expect((await readBody(late, entry)).toString()).toBe('late');
    } finally {
      await late.close();
    }
  });
});
