/**
 * A method an admin endpoint does not take: 405 with Allow listing the ones it does (RFC 9110
 * §15.5.6), CACHE_ERR_METHOD_NOT_ALLOWED, never a 404 (the endpoint exists) and never the origin.
 * Every endpoint × every method Node parses, without a body, with a Content-Length body and with
 * a chunked one, over raw keep-alive connections: each answer is framed, and the connection
 * still serves the next request (the unread body was skipped, not taken for a request).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import { readdirSync } from 'node:fs';
import { DASHBOARD_DIR } from '../src/admin/dashboard.js';
import { startCache, tempDir, type StartedCache } from './helpers/cache.js';
import { RawConnection } from './helpers/raw.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

/**
 * What docs/operating.md lists: each endpoint and the methods it takes (HEAD comes with GET), in
 * the alphabetical order Allow lists them.
 */
const READ = ['GET', 'HEAD'];
const ENDPOINTS: Record<string, string[]> = {
  '/_cache': READ,
  '/_cache/': READ,
  '/_cache/entries': ['DELETE', ...READ],
  '/_cache/stats': READ,
  '/_cache/health': READ,
  '/_cache/ready': READ,
  '/_cache/metrics': READ,
  '/_cache/explain': READ,
  '/_cache/config': READ,
  '/_cache/config/reload': ['POST'],
  ...Object.fromEntries(
    readdirSync(DASHBOARD_DIR)
      .filter((file) => file !== 'index.html')
      .map((file) => [`/_cache/${file}`, READ]),
  ),
};

/**
 * Every method Node's parser takes, but CONNECT (refused for the whole cache: client-errors.test.ts)
 * and PURGE (`PURGE <path>` purges that URL, wherever it points). TRACE is sent last: on the
 * cache port it is refused for the whole cache before any route (front-door.ts), with the
 * cache's Allow, and the connection closes.
 */
const METHODS = [...http.METHODS.filter((method) => !['CONNECT', 'PURGE', 'TRACE'].includes(method)), 'TRACE'];

const BODIES = {
  'no body': '\r\n',
  'a Content-Length body': 'Content-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello=world',
  'a chunked body': 'Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nb\r\n{"all":"1"}\r\n0\r\n\r\n',
};

let origin: TestOrigin;
let dir: Awaited<ReturnType<typeof tempDir>>;
let cache: StartedCache;

beforeAll(async () => {
  dir = await tempDir();
  origin = await startTestOrigin({ '*': fixed('from the origin', { 'cache-control': 'max-age=60' }) });
  cache = await startCache(origin.url, dir.dir, { adminPort: 0 });
});
afterAll(async () => {
  await cache?.close();
  await origin?.close();
  await dir?.cleanup();
});

/** Sends every wrong method for `path` on one keep-alive connection; returns what each got. */
async function askEveryWrongMethod(base: string, path: string, body: string) {
  const connection = await RawConnection.open(base);
  try {
    const answers: { method: string; head: string; body: string }[] = [];
    for (const method of METHODS.filter((method) => !ENDPOINTS[path]!.includes(method))) {
      if (method === 'TRACE') {
        // The connection is still in step before it: the next request is answered as itself.
        connection.send('GET /_cache/health HTTP/1.1\r\nHost: cache.test\r\n\r\n');
        answers.push({ method: 'the health check', head: (await connection.next()).head, body: '' });
      }
      connection.send(`${method} ${path} HTTP/1.1\r\nHost: cache.test\r\n${body}`);
      const answer = await connection.next(method === 'HEAD');
      answers.push({ method, head: answer.head, body: answer.body.toString() });
    }
    return { answers, unread: connection.unread };
  } finally {
    connection.destroy();
  }
}

const headerOf = (head: string, name: string) => new RegExp(`\r\n${name}: ([^\r]*)\r\n`, 'i').exec(head)?.[1];

describe.each([
  ['the cache port', () => cache.url],
  ['the admin port', () => cache.adminUrl!],
])('on %s', (port, base) => {
  describe.each(Object.entries(BODIES))('with %s', (_label, body) => {
    test.each(Object.keys(ENDPOINTS))('%s: every other method gets 405 with Allow', async (path) => {
      const before = origin.count();
      const { answers, unread } = await askEveryWrongMethod(base(), path, body);
      expect(answers.length).toBeGreaterThan(25);
      const health = answers.find((answer) => answer.method === 'the health check')!;
      expect(health.head).toMatch(/^HTTP\/1\.1 200 /);
      for (const answer of answers.filter((answer) => answer !== health)) {
        const seen = {
          method: answer.method,
          status: answer.head.slice(9, 12),
          code: headerOf(answer.head, 'x-cache-error'),
        };
        expect(seen).toEqual({ method: answer.method, status: '405', code: 'CACHE_ERR_METHOD_NOT_ALLOWED' });
        const refusedByCache = answer.method === 'TRACE' && port === 'the cache port';
        const allow = refusedByCache
          ? 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, PURGE'
          : ENDPOINTS[path]!.join(', ');
        expect({ method: answer.method, allow: headerOf(answer.head, 'allow') }).toEqual({
          method: answer.method,
          allow,
        });
        if (answer.method !== 'HEAD' && !refusedByCache) {
          expect(JSON.parse(answer.body)).toEqual({
            error: 'CACHE_ERR_METHOD_NOT_ALLOWED',
            message: 'This admin endpoint does not take that method: Allow lists the ones it takes.',
          });
        }
      }
      expect(unread).toBe(0);
      expect(origin.count()).toBe(before);
    });
  });
});

/** One request on a connection of its own: its status and the header fields asked for. */
async function askOnce(method: string, path: string, fields: string[]): Promise<Record<string, string | undefined>> {
  const connection = await RawConnection.open(cache.url);
  try {
    connection.send(`${method} ${path} HTTP/1.1\r\nHost: cache.test\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    const { head } = await connection.next();
    return {
      method,
      path,
      status: head.slice(9, 12),
      ...Object.fromEntries(fields.map((name) => [name, headerOf(head, name)])),
    };
  } finally {
    connection.destroy();
  }
}

test('a path under the prefix that is no endpoint is still a 404, whatever the method', async () => {
  for (const method of ['GET', 'POST', 'DELETE', 'PROPFIND']) {
    expect(await askOnce(method, '/_cache/entries/x', ['x-cache-error'])).toEqual({
      method,
      path: '/_cache/entries/x',
      status: '404',
      'x-cache-error': 'CACHE_ERR_ADMIN_NOT_FOUND',
    });
  }
});

test('an endpoint spelt another way the proxy normalises (dot segments, %5F) is the same endpoint', async () => {
  for (const path of ['/%5Fcache/stats', '/a/../_cache/stats', '/_cache/./stats?x=1']) {
    expect(await askOnce('POST', path, ['allow'])).toEqual({ method: 'POST', path, status: '405', allow: 'GET, HEAD' });
  }
});
