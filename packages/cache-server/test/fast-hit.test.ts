import { beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { EntryMeta } from '@simple-cache/common';
import { cacheKey } from '../src/policy/index.js';
import { hasHotReads } from '../src/store/store.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';

/**
 * Hits on small in-memory objects are answered before Fastify's router (proxy/fast-hit.ts).
 * They must be indistinguishable from the full path's answers, and count in metrics.
 */
/** A 256 KiB body: the largest hit size, which the memory tier holds by default (1 MiB). */
const QUARTER_MIB = randomBytes(256 * 1024);

describe('fast hits answer exactly as the full path does', () => {
  const env = useOriginAndCache({
    '/quarter-mib': (_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': QUARTER_MIB.length });
      res.end(QUARTER_MIB);
    },
    '/small': (_req, res) => {
      res.writeHead(200, {
        'cache-control': 'max-age=600, no-cache="x-private-note"',
        'content-type': 'text/plain',
        etag: '"s1"',
        'surrogate-key': 'group-a',
        'x-private-note': 'not for reuse',
        'x-kept': 'yes',
      });
      res.end('small body');
    },
  });
  beforeAll(async () => {
    await request(env.cache.url, '/small');
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
  });

  /** Headers that legitimately differ between two responses a moment apart. */
  const comparable = (headers: Record<string, unknown>) => {
    const { date: _date, age: _age, 'cache-status': _status, ...rest } = headers;
    return rest;
  };

  test('GET: same status, headers and body as a request that takes the full path', async () => {
    const servedBefore = env.cache.fastHit?.served ?? 0;
    const fast = await request(env.cache.url, '/small');
    expect(env.cache.fastHit?.served).toBe(servedBefore + 1);
    // An unknown Pragma directive means nothing to the policy but sends the request down the full path.
    const full = await request(env.cache.url, '/small', { headers: { pragma: 'x-ignored' } });
    expect(env.cache.fastHit?.served).toBe(servedBefore + 1);
    expect(fast.headers['x-cache']).toBe('HIT');
    expect(full.headers['x-cache']).toBe('HIT');
    expect(fast.status).toBe(full.status);
    expect(fast.body.toString()).toBe('small body');
    expect(fast.body.equals(full.body)).toBe(true);
    expect(comparable(fast.headers)).toEqual(comparable(full.headers));
    expect(fast.headers['cache-status']).toMatch(/^simple-cache; hit; ttl=\d+$/);
    expect(fast.headers.age).toMatch(/^\d+$/);
    // The no-cache="…" field and the purge tag never reach a client from storage.
    expect(fast.headers['x-private-note']).toBeUndefined();
    expect(fast.headers['surrogate-key']).toBeUndefined();
    expect(fast.headers['x-kept']).toBe('yes');
    expect(env.origin.count('/small')).toBe(1);
  });

  test('with the default options a 256 KiB body is held in memory and answered by the fast path', async () => {
    await request(env.cache.url, '/quarter-mib');
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
    const servedBefore = env.cache.fastHit?.served ?? 0;
    const hit = await request(env.cache.url, '/quarter-mib');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.body.equals(QUARTER_MIB)).toBe(true);
    expect(env.cache.fastHit?.served).toBe(servedBefore + 1);
    expect(env.origin.count('/quarter-mib')).toBe(1);
  });

  test('HEAD: the same headers, no body', async () => {
    const head = await request(env.cache.url, '/small', { method: 'HEAD' });
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe('10');
    expect(head.body.length).toBe(0);
  });

  test('fast hits are counted in the metrics like any other hit', async () => {
    const before = await hits();
    await request(env.cache.url, '/small');
    await request(env.cache.url, '/small');
    expect((await hits()) - before).toBe(2);
  });

  async function hits(): Promise<number> {
    const text = (await request(env.cache.url, '/_cache/metrics')).body.toString();
    const line = text.split('\n').find((l) => l.startsWith('simple_cache_requests_total{cache_status="hit"}'));
    return Number(line?.split(' ').at(-1) ?? 0);
  }
});

// Forced collections: whether a Buffer is still referenced, not whether V8 got round to it.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

describe('the fast path holds no body the memory tier has dropped', () => {
  const BIG = 100 * 1024;
  const env = useOriginAndCache(
    {
      '*': (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': BIG });
        res.end(Buffer.alloc(BIG, req.url ?? ''));
      },
    },
    // Room for one of the two bodies: storing the second drops the first from memory.
    { memorySize: 150 * 1024 },
  );

  test('a body evicted from memory after fast hits is collected while its entry stays stored', async () => {
    const { store, fastHit } = env.cache;
    if (!hasHotReads(store) || !fastHit) throw new Error('the default options include a memory tier');
    const key = cacheKey(env.origin.url, '/first') ?? '';
    await request(env.cache.url, '/first');
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
    const before = fastHit.served;
    expect((await request(env.cache.url, '/first')).body.length).toBe(BIG);
    expect(fastHit.served).toBe(before + 1);
    const held = new WeakRef(store.getBody(store.peekSync(key)?.[0] as EntryMeta) as Buffer);
    expect(held.deref()?.length).toBe(BIG);

    await request(env.cache.url, '/second');
    await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
    expect(store.getBody(store.peekSync(key)?.[0] as EntryMeta)).toBeUndefined();
    // A WeakRef keeps its target alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(held.deref()).toBeUndefined();
    // Still stored: the next hit reads it again (and the fast path serves it once it is back in memory).
    expect((await request(env.cache.url, '/first')).headers['x-cache']).toBe('HIT');
  });
});
