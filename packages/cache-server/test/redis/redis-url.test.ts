import { describe, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import {
  describeRedisTarget,
  isRedisStore,
  parseRedisTarget,
  type RedisTarget,
} from '../../src/store/redis/redis-url.js';
import { tempDir } from '../helpers/cache.js';

describe('--store: where the Redis store connects', () => {
  test.each<[string, RedisTarget]>([
    ['redis://localhost', { mode: 'single', nodes: [{ host: 'localhost', port: 6379 }], db: 0, tls: false }],
    ['redis://10.0.0.5:6380/3', { mode: 'single', nodes: [{ host: '10.0.0.5', port: 6380 }], db: 3, tls: false }],
    [
      'rediss://cache.internal:6380',
      { mode: 'single', nodes: [{ host: 'cache.internal', port: 6380 }], db: 0, tls: true },
    ],
    [
      'redis://:s%40cret@localhost:6379/1',
      { mode: 'single', nodes: [{ host: 'localhost', port: 6379 }], db: 1, tls: false, password: 's@cret' },
    ],
    [
      'redis://app:pw@localhost',
      {
        mode: 'single',
        nodes: [{ host: 'localhost', port: 6379 }],
        db: 0,
        tls: false,
        username: 'app',
        password: 'pw',
      },
    ],
    ['redis://[::1]:7000', { mode: 'single', nodes: [{ host: '::1', port: 7000 }], db: 0, tls: false }],
    [
      'redis://a:7000, redis://b:7001,redis://c:7002',
      {
        mode: 'cluster',
        nodes: [
          { host: 'a', port: 7000 },
          { host: 'b', port: 7001 },
          { host: 'c', port: 7002 },
        ],
        db: 0,
        tls: false,
      },
    ],
    [
      'redis-sentinel://s1:26379,s2,[::1]:26380/cache',
      {
        mode: 'sentinel',
        nodes: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
          { host: '::1', port: 26380 },
        ],
        masterName: 'cache',
        db: 0,
        tls: false,
      },
    ],
    [
      'rediss-sentinel://app:p%40ss@s1:5000/main-1/2',
      {
        mode: 'sentinel',
        nodes: [{ host: 's1', port: 5000 }],
        masterName: 'main-1',
        db: 2,
        tls: true,
        username: 'app',
        password: 'p@ss',
      },
    ],
  ])('%s', (text, expected) => {
    expect(parseRedisTarget(text)).toEqual(expected);
  });

  test.each([
    ['not a URL', 'localhost:6379'],
    ['another scheme', 'http://localhost:6379'],
    ['a path that is not a database number', 'redis://localhost/cache'],
    ['a cluster mixing TLS and plain', 'redis://a:7000,rediss://b:7001'],
    ['a cluster with a database other than 0', 'redis://a:7000/1,redis://b:7001/1'],
    ['nothing', ' , '],
    ['a sentinel URL without a master name', 'redis-sentinel://s1:26379'],
    ['a sentinel master name with glob characters', 'redis-sentinel://s1:26379/ca*he'],
  ])('refused: %s', (_label, text) => {
    expect(() => parseRedisTarget(text)).toThrow();
  });

  test('the description for logs names the nodes but never the password', () => {
    const description = describeRedisTarget(parseRedisTarget('rediss://app:secret@a:7000,rediss://app:secret@b:7001'));
    expect(description).toBe('rediss://a:7000,b:7001/0 (cluster)');
    expect(description).not.toContain('secret');
  });

  test.each([
    [[], {}, 'disk'],
    [['--store', 'redis://127.0.0.1:6379/2'], {}, 'redis://127.0.0.1:6379/2'],
    [[], { CACHE_STORE: 'rediss://r:6380' }, 'rediss://r:6380'],
    [['--store', 'disk'], { CACHE_STORE: 'redis://r' }, 'disk'],
  ])('config: %j with env %j → store %s', (argv, env, expected) => {
    const { config } = loadConfig(argv, env);
    expect(config.store).toBe(expected);
    expect(isRedisStore(config.store)).toBe(expected !== 'disk');
  });

  test('config: an invalid --store names the option', () => {
    expect(() => loadConfig(['--store', 'mysql://db'], {})).toThrow(/store/);
  });

  test('the description of a sentinel set-up names the sentinels and the master group, never the password', () => {
    const description = describeRedisTarget(parseRedisTarget('redis-sentinel://:secret@s1,s2:5000/cache/1'));
    expect(description).toBe('redis-sentinel://s1:26379,s2:5000/cache/1');
  });

  test.each<[string[], Record<string, string>, Record<string, unknown>]>([
    [[], {}, { redisPrefix: 'sc', redisTlsCa: '', redisTlsServername: '' }],
    [['--redis-prefix', 'team-a:cache'], {}, { redisPrefix: 'team-a:cache' }],
    [[], { CACHE_REDIS_PREFIX: 'shop' }, { redisPrefix: 'shop' }],
    [['--redis-tls-servername', 'redis.internal'], {}, { redisTlsServername: 'redis.internal' }],
    [['--redis-tls-ca', 'package.json'], {}, { redisTlsCa: expect.stringMatching(/^\/.*package\.json$/) }],
    [['--node-id', 'cache-2'], {}, { nodeId: 'cache-2' }],
    [[], { CACHE_NODE_ID: 'edge.eu-1' }, { nodeId: 'edge.eu-1' }],
  ])('config: %j with env %j', (argv, env, expected) => {
    expect(loadConfig(argv, env).config).toMatchObject(expected);
  });

  test('TLS files named in a config file are relative to that file', async () => {
    const dir = await tempDir();
    try {
      await writeFile(path.join(dir.dir, 'ca.pem'), 'not checked until the store opens');
      const file = path.join(dir.dir, 'cache.yml');
      await writeFile(file, 'store: rediss://redis.internal:6380\nredis-tls-ca: ./ca.pem\n');
      expect(loadConfig(['--config', file], {}).config.redisTlsCa).toBe(path.join(dir.dir, 'ca.pem'));
    } finally {
      await dir.cleanup();
    }
  });

  test.each([
    ['--redis-prefix', 'sc*'],
    ['--redis-prefix', ':leading'],
    ['--node-id', 'has space'],
  ])('config: %s %s is refused, naming the option', (flag, value) => {
    expect(() => loadConfig([flag, value], {})).toThrow(new RegExp(flag.slice(2)));
  });
});
