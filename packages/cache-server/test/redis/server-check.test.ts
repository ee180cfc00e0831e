// @system-packages redis-server
import { afterEach, describe, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { warningsFor, type ServerSettings } from '../../src/store/redis/server-check.js';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { waitFor } from '../helpers/http.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { openRedisStore } from './redis-helpers.js';

/** At start-up the store reads how Redis keeps its data and warns once about what hurts a cache. */
describe('warningsFor: the settings that hurt a cache', () => {
  const good: ServerSettings = {
    node: 'r:6379',
    maxmemory: 2 ** 31,
    maxmemoryPolicy: 'allkeys-lru',
    save: '',
    appendonly: false,
  };
  test.each<[string, Partial<ServerSettings>, RegExp | undefined]>([
    ['a memory limit and an LRU policy, no persistence', {}, undefined],
    ['allkeys-lfu', { maxmemoryPolicy: 'allkeys-lfu' }, undefined],
    ['volatile-lru (every entry has a TTL)', { maxmemoryPolicy: 'volatile-lru' }, undefined],
    ['no memory limit', { maxmemory: 0 }, /no memory limit \(maxmemory 0\)/],
    ['noeviction', { maxmemoryPolicy: 'noeviction' }, /evicts nothing when full .* silently stops storing/],
    ['RDB save points', { save: '3600 1 300 100' }, /saves snapshots \(save "3600 1 300 100"\).*purged ones included/],
    ['AOF', { appendonly: true }, /logs every write to disk \(appendonly yes\)/],
    ['a server that would not say (CONFIG renamed, INFO only)', { maxmemory: undefined, save: undefined }, undefined],
  ])('%s', (_label, change, warning) => {
    const warnings = warningsFor({ ...good, ...change });
    if (warning === undefined) expect(warnings).toEqual([]);
    else expect(warnings).toEqual([expect.stringMatching(warning)]);
  });
});

describe('the warnings at start-up, from a real redis-server', () => {
  let server: RedisServer | undefined;
  let store: RedisStore | undefined;
  afterEach(async () => {
    await store?.close();
    await server?.cleanup();
  });

  async function openOn(args: string[]): Promise<{ level: number; msg: string; redis?: string }[]> {
    server = await startRedisServer(args);
    const lines: { level: number; msg: string; redis?: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    store = await openRedisStore(server, { logger });
    return lines;
  }

  test('a server configured like a database: one warning per setting, once', async () => {
    const lines = await openOn([
      '--maxmemory',
      '0',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '3600 1',
      '--appendonly',
      'yes',
    ]);
    const warnings = () =>
      lines.filter((line) => /^Redis \S+ (has no memory|evicts nothing|saves|logs every)/.test(line.msg));
    await waitFor(() => warnings().length === 4, 'the four warnings');
    expect(warnings().every((line) => line.redis === `127.0.0.1:${server!.port}`)).toBe(true);
    await store!.lookup('http://origin.test/a');
    expect(warnings()).toHaveLength(4);
  });

  test('a server configured for a cache: no warning', async () => {
    const lines = await openOn(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    await waitFor(() => lines.some((line) => line.msg === 'Redis server settings'), 'the settings to be read');
    expect(lines.find((line) => line.msg === 'Redis server settings')).toMatchObject({
      maxmemory: 64 * 1024 * 1024,
      maxmemoryPolicy: 'allkeys-lru',
      save: '',
      appendonly: false,
    });
    expect(lines.filter((line) => line.level >= 40)).toEqual([]);
  });
});
