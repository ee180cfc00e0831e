// @system-packages redis-server
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { makeMeta, readBody, writeEntry } from '../store/store-helpers.js';
import { openRedisStore } from './redis-helpers.js';

/**
 * A hung Redis (SIGSTOP: its connections stay open, nothing is answered) must not hang the
 * cache: the first calls give up after the gate's timeout, a few such failures open the circuit
 * breaker, and from then on every call fails at once without asking Redis, until a background
 * probe finds it answering again (SIGCONT).
 */
const KEY = 'http://origin.test/breaker';
const TIMEOUT_MS = 300;

let server: RedisServer;
let store: RedisStore;
let logLines: { level: number; msg: string }[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.cleanup();
});
beforeEach(async () => {
  logLines = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(JSON.parse(line)) });
  store = await openRedisStore(server, { logger, gate: { timeoutMs: TIMEOUT_MS, probeMs: 50 } });
});
afterEach(async () => {
  server.resume();
  await store.close();
});

const errors = () => logLines.filter((line) => line.level >= 50);
const count = (kind: string) => store.errorCounts()[kind] ?? 0;

describe('the circuit breaker', () => {
  test('a hung Redis: calls time out, the breaker opens, later calls fail at once; SIGCONT closes it', async () => {
    const entry = await writeEntry(store, makeMeta(KEY), 'stored before the hang');
    server.pause();

    const first = await Promise.allSettled([1, 2, 3].map(() => store.lookup(KEY)));
    for (const result of first) {
      expect(result).toMatchObject({ status: 'rejected', reason: { code: 'CACHE_ERR_STORE_UNAVAILABLE' } });
    }
    expect(store.health()).toMatchObject({ state: 'degraded', code: 'REDIS_TIMEOUT', since: expect.any(Number) });
    // (The heartbeat's pings may have timed out too.)
    const timeouts = count('timeout');
    expect(timeouts).toBeGreaterThanOrEqual(3);
    const refused = count('unavailable');

    // Open: refused without a call to Redis (no new timeout), whatever the call.
    for (const call of [() => store.lookup(KEY), () => store.openBody(entry), () => store.delete(KEY)]) {
      await expect(call()).rejects.toMatchObject({ code: 'CACHE_ERR_STORE_UNAVAILABLE' });
    }
    expect(() => store.markUsed(entry)).not.toThrow();
    const writer = store.beginWrite(makeMeta(`${KEY}/new`));
    expect(writer.refused).toBe('CACHE_ERR_STORE_DEGRADED');
    await expect(writer.commit()).rejects.toMatchObject({ code: 'CACHE_ERR_STORE_DEGRADED' });
    expect(count('timeout')).toBe(timeouts);
    expect(count('unavailable')).toBe(refused + 3);
    expect(errors()).toHaveLength(1);
    expect(errors()[0]!.msg).toMatch(/Redis \S+ is unavailable \(timeout\)/);

    server.resume();
    await waitFor(() => store.health().state === 'ok', 'a probe to close the breaker');
    expect((await readBody(store, entry)).toString()).toBe('stored before the hang');
    expect(logLines.some((line) => line.level === 30 && /answers again/.test(line.msg))).toBe(true);
    expect(errors()).toHaveLength(1);
  });

  test('calls already waiting when the breaker opens fail with it, not each at its own timeout', async () => {
    await writeEntry(store, makeMeta(KEY), 'x');
    server.pause();
    const early = [1, 2, 3].map(() => store.lookup(KEY));
    // Sent while the early ones wait: without the breaker each would wait out its own timeout.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS / 3));
    const late = [1, 2, 3].map(() => store.lookup(KEY));
    const settled = await Promise.allSettled([...early, ...late]);
    expect(settled.every((result) => result.status === 'rejected')).toBe(true);
    const messages = settled.map((result) => String((result as PromiseRejectedResult).reason.message));
    expect(messages.slice(0, 3).every((message) => /no reply from Redis within/.test(message))).toBe(true);
    expect(messages.slice(3).every((message) => /is unavailable \(timeout/.test(message))).toBe(true);
  });

  test('a server that refuses connections opens the breaker at once; it closes once Redis is back', async () => {
    await server.stop();
    try {
      await waitFor(() => store.health().state === 'degraded', 'the closed connection to open the breaker');
      expect(store.health()).toMatchObject({ state: 'degraded', code: 'REDIS_CONNECTION' });
      await expect(store.lookup(KEY)).rejects.toMatchObject({ code: 'CACHE_ERR_STORE_UNAVAILABLE' });
    } finally {
      await server.restart();
    }
    await waitFor(() => store.health().state === 'ok', 'the breaker to close', 20_000);
    const entry = await writeEntry(store, makeMeta(KEY), 'after');
    expect((await readBody(store, entry)).toString()).toBe('after');
  });
});
