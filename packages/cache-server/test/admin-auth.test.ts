import { beforeAll, describe, expect, test } from '@jest/globals';
import { decideAdminAccess, isLoopbackAddress, type AdminAccess } from '../src/admin/auth.js';
import { admin, PREFIX, requestFromPeer } from './helpers/admin.js';
import { useOriginAndCaches, type StartedCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { fixed } from './helpers/test-origin.js';

const TOKEN = 's3cret-token';
/** A documentation address (RFC 5737): only ever the peer of an in-memory connection, never dialled. */
const REMOTE = '192.0.2.10';

describe('isLoopbackAddress: judged on the socket peer address', () => {
  test.each<[string | undefined, boolean]>([
    ['127.0.0.1', true],
    ['127.45.6.7', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['192.0.2.10', false],
    ['::ffff:10.0.0.1', false],
    ['fd00::2', false],
    ['::', false],
    ['128.0.0.1', false],
    ['localhost', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (address, expected) => {
    expect(isLoopbackAddress(address)).toBe(expected);
  });
});

describe('decideAdminAccess', () => {
  test.each<[string, string, string | undefined, string | undefined, AdminAccess]>([
    ['no token configured, loopback client', '', undefined, '127.0.0.1', 'allowed'],
    ['no token configured, IPv6 loopback client', '', undefined, '::1', 'allowed'],
    ['no token configured, remote client', '', undefined, REMOTE, 'forbidden'],
    ['no token configured, remote client sending a Bearer', '', 'Bearer anything', REMOTE, 'forbidden'],
    ['token configured, right token', TOKEN, `Bearer ${TOKEN}`, REMOTE, 'allowed'],
    ['token configured, scheme in any case', TOKEN, `bearer ${TOKEN}`, REMOTE, 'allowed'],
    ['token configured, no Authorization, even from loopback', TOKEN, undefined, '127.0.0.1', 'unauthorized'],
    ['token configured, wrong token', TOKEN, 'Bearer nope', '127.0.0.1', 'unauthorized'],
    ['token configured, token prefix only', TOKEN, `Bearer ${TOKEN.slice(0, 4)}`, '127.0.0.1', 'unauthorized'],
    ['token configured, Basic scheme', TOKEN, `Basic ${TOKEN}`, '127.0.0.1', 'unauthorized'],
  ])('%s', (_rule, token, authorization, remoteAddress, expected) => {
    expect(decideAdminAccess({ token, authorization, remoteAddress })).toBe(expected);
  });
});

describe('state-changing admin calls', () => {
  const lab = useOriginAndCaches({ '*': fixed('cached body', { 'cache-control': 'max-age=600' }) });
  const { start } = lab;

  async function store(cache: StartedCache, path: string): Promise<void> {
    expect((await request(cache.url, path)).headers['x-cache']).toBe('MISS');
    await waitFor(
      async () => (await cache.store.lookup(`${lab.origin.url}${path}`)).length === 1,
      `${path} to be stored`,
    );
  }

  const stored = async (cache: StartedCache, path: string) =>
    (await cache.store.lookup(`${lab.origin.url}${path}`)).length;

  describe('without --admin-token', () => {
    let cache: StartedCache;
    beforeAll(async () => {
      cache = await start();
    });

    test('are refused from a non-loopback address (403), whatever headers claim', async () => {
      await store(cache, '/remote');
      for (const call of [
        { method: 'PURGE', url: '/remote' },
        { method: 'DELETE', url: `${PREFIX}/entries?all=1` },
        { method: 'PURGE', url: '/remote', headers: { 'x-forwarded-for': '127.0.0.1' } },
        { method: 'PURGE', url: '/remote', headers: { authorization: 'Bearer guess' } },
      ]) {
        const reply = await requestFromPeer(cache.app.server, REMOTE, call.url, call);
        expect({ call, status: reply.status, code: reply.json.error }).toEqual({
          call,
          status: 403,
          code: 'CACHE_ERR_ADMIN_FORBIDDEN',
        });
      }
      expect(await stored(cache, '/remote')).toBe(1);
    });

    test('are accepted from loopback (a real socket on 127.0.0.1)', async () => {
      await store(cache, '/local');
      const reply = await admin(cache.url, '/local', { method: 'PURGE' });
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ purged: 1, soft: false });
      expect(await stored(cache, '/local')).toBe(0);
    });

    test('reading (stats, metrics, entries, explain) is open to any client', async () => {
      for (const path of ['stats', 'metrics', 'entries', 'explain?url=/remote&probe=0', 'health', '']) {
        const reply = await requestFromPeer(cache.app.server, REMOTE, `${PREFIX}/${path}`);
        expect({ path, status: reply.status }).toEqual({ path, status: 200 });
      }
    });
  });

  describe('with --admin-token', () => {
    let cache: StartedCache;
    beforeAll(async () => {
      cache = await start({ adminToken: TOKEN });
    });

    test('are refused without the token (401 + WWW-Authenticate), even from loopback', async () => {
      await store(cache, '/guarded');
      for (const token of [undefined, 'wrong-token']) {
        const reply = await admin(cache.url, '/guarded', { method: 'PURGE', ...(token ? { token } : {}) });
        expect(reply.status).toBe(401);
        expect(reply.json.error).toBe('CACHE_ERR_ADMIN_UNAUTHORIZED');
        expect(reply.headers['www-authenticate']).toBe('Bearer realm="simple-cache"');
      }
      const remote = await requestFromPeer(cache.app.server, REMOTE, `${PREFIX}/entries?all=1`, { method: 'DELETE' });
      expect(remote.status).toBe(401);
      expect(await stored(cache, '/guarded')).toBe(1);
    });

    test('are accepted with the token, from loopback or from anywhere', async () => {
      const local = await admin(cache.url, '/guarded', { method: 'PURGE', token: TOKEN });
      expect(local.json).toEqual({ purged: 1, soft: false });
      await store(cache, '/guarded');
      const remote = await requestFromPeer(cache.app.server, REMOTE, '/guarded', {
        method: 'PURGE',
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(remote.status).toBe(200);
      expect(await stored(cache, '/guarded')).toBe(0);
    });
  });

  describe('--admin-port', () => {
    test('serves the same admin endpoints on 127.0.0.1 only, and nothing of the proxy', async () => {
      const cache = await start({ adminPort: 0 });
      expect(cache.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(cache.admin?.server.address()).toMatchObject({ address: '127.0.0.1' });
      await store(cache, '/via-admin-port');
      const purged = await admin(cache.adminUrl as string, '/via-admin-port', { method: 'PURGE' });
      expect(purged.json).toEqual({ purged: 1, soft: false });
      expect((await admin(cache.adminUrl as string, `${PREFIX}/health`)).json.status).toBe('ok');
      const before = lab.origin.count();
      const notProxied = await admin(cache.adminUrl as string, '/via-admin-port');
      expect(notProxied.status).toBe(404);
      expect(lab.origin.count()).toBe(before);
    });
  });
});
