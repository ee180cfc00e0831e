import { beforeAll, describe, expect, test } from '@jest/globals';
import { useOriginAndCache } from './helpers/cache.js';
import type { EntryExplanation, ExplainStep } from '../src/policy/explain.js';
import { admin, PREFIX } from './helpers/admin.js';
import { request, waitFor } from './helpers/http.js';
import { fixed } from './helpers/test-origin.js';

type Explained = {
  key: string;
  stored: number;
  next?: string;
  steps?: ExplainStep[];
  variants: (EntryExplanation & { entry: { path: string; size: number } })[];
  probe?: { ok: boolean; status: number; storable: { storable: boolean; reason: string; rfc: string } };
};

describe('<prefix>/explain?url=…', () => {
  const env = useOriginAndCache({
    '/cached': fixed('cached', { 'cache-control': 'max-age=300', etag: '"c"' }),
    '/secret': fixed('secret', { 'cache-control': 'no-store' }),
    '/lang': (req, res) => {
      const body = `hello ${req.headers['accept-language']}`;
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language', 'content-length': body.length });
      res.end(body);
    },
  });
  beforeAll(async () => {
    await request(env.cache.url, '/cached');
    await request(env.cache.url, '/lang', { headers: { 'accept-language': 'en' } });
    await request(env.cache.url, '/lang', { headers: { 'accept-language': 'de' } });
    await waitFor(() => env.cache.store.stats().entries === 3, 'three entries');
  });

  const explain = async (query: string) => {
    const reply = await admin(env.cache.url, `${PREFIX}/explain?${query}`);
    return { status: reply.status, body: reply.json as unknown as Explained & { error?: string } };
  };

  test('a stored URL: the policy’s reasoning step by step, each citing its RFC; the origin is not asked', async () => {
    const before = env.origin.count();
    const { status, body } = await explain('url=/cached');
    expect(status).toBe(200);
    expect(body).toMatchObject({ key: `${env.origin.url}/cached`, stored: 1 });
    expect(body.probe).toBeUndefined();
    const [variant] = body.variants;
    expect(variant).toMatchObject({
      storable: { storable: true, reason: 'storable', rfc: 'RFC 9111 §3' },
      freshness: { lifetime: 300, source: 'max-age', rfc: 'RFC 9111 §5.2.2.1' },
      next: { outcome: 'hit', reason: 'fresh', rfc: 'RFC 9111 §4.2' },
      entry: { path: '/cached', size: 6 },
    });
    expect(variant?.steps.map((step) => step.check)).toEqual([
      'storable',
      'freshness',
      'age',
      'validators',
      'reuse',
      'on-error',
    ]);
    for (const step of variant?.steps ?? []) expect(step.rfc).toMatch(/^RFC \d+ §/);
    expect(env.origin.count()).toBe(before);
  });

  test('every variant of a URL is explained (Vary, RFC 9111 §4.1)', async () => {
    const { body } = await explain(`url=${encodeURIComponent(`${env.cache.url}/lang`)}`);
    expect(body.stored).toBe(2);
    const varies = body.variants.map((variant) => variant.steps.find((step) => step.check === 'vary')?.text);
    expect(varies.sort()).toEqual([
      expect.stringContaining('accept-language: de'),
      expect.stringContaining('accept-language: en'),
    ]);
  });

  test('after a soft purge, the next request revalidates', async () => {
    await admin(env.cache.url, `${PREFIX}/entries?url=/cached&soft=1`, { method: 'DELETE' });
    const { body } = await explain('url=/cached');
    expect(body.variants[0]?.next).toEqual({ outcome: 'revalidate', reason: 'stale', rfc: 'RFC 9111 §4.3' });
  });

  test('nothing stored: a miss, and one probe of the origin says why it is not stored', async () => {
    const before = env.origin.count('/secret');
    await request(env.cache.url, '/secret');
    const { body } = await explain('url=/secret');
    expect(body).toMatchObject({ stored: 0, next: 'miss', variants: [] });
    expect(body.steps?.[0]).toMatchObject({ check: 'lookup', reason: 'uri-miss' });
    expect(body.probe).toMatchObject({
      ok: true,
      status: 200,
      storable: { storable: false, reason: 'no-store', rfc: 'RFC 9111 §5.2.2.5' },
    });
    expect(env.origin.count('/secret')).toBe(before + 2);
    // The probe stores nothing.
    expect(await env.cache.store.lookup(`${env.origin.url}/secret`)).toEqual([]);
  });

  test('probe=0: no origin request', async () => {
    const before = env.origin.count();
    const { body } = await explain('url=/never-seen&probe=0');
    expect(body).toMatchObject({ stored: 0, next: 'miss' });
    expect(body.probe).toBeUndefined();
    expect(env.origin.count()).toBe(before);
  });

  test('without a usable url → 400', async () => {
    for (const query of ['', 'url=', 'url=mailto%3Ax%40y']) {
      const { status, body } = await explain(query);
      expect({ query, status, error: body.error }).toEqual({
        query,
        status: 400,
        error: 'CACHE_ERR_ADMIN_BAD_REQUEST',
      });
    }
  });
});
