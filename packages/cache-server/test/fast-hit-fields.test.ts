import { beforeAll, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { carriesFullPathField } from '../src/proxy/fast-hit.js';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';

/**
 * The fast hit path (proxy/fast-hit.ts) decides from the request's field lines as received
 * (rawHeaders) whether a request must take the full path: conditionals, ranges, request
 * directives, and fields announcing a body. Whatever the case of a name, however many fields a
 * request carries, and whichever other fields share a name's length, a request with one of them
 * never gets a fast answer, and a request without them does.
 */
const FULL_PATH = [
  'cache-control',
  'pragma',
  'range',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'transfer-encoding',
  'content-length',
];
/** Fields browsers send, several as long as a FULL_PATH name (accept, priority, sec-fetch-*). */
const OTHERS = [
  'accept',
  'priority',
  'sec-fetch-mode',
  'sec-fetch-site',
  'sec-fetch-dest',
  'accept-language',
  'accept-encoding',
  'user-agent',
  'referer',
  'cookie',
  'x-range',
  'if-matches',
  'upgrade-insecure-requests',
  'x-a-field-name-longer-than-thirty-two-characters',
];

/** A name in any mix of upper and lower case. */
const anyCase = (names: readonly string[]) =>
  fc
    .tuple(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }))
    .map(([name, upper]) => [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));

/** Fields that change how the connection or the request is handled whatever the cache does. */
const CONNECTION_FIELDS = [
  'host',
  'connection',
  'expect',
  'upgrade',
  'te',
  'keep-alive',
  'proxy-connection',
  'trailer',
];

const fieldName = fc.oneof(
  anyCase(FULL_PATH),
  anyCase(OTHERS),
  fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9-]{0,40}$/).filter((name) => !CONNECTION_FIELDS.includes(name.toLowerCase())),
);

/** The value a field gets in a raw request: one the full path can take without error. */
function valueFor(name: string): string {
  switch (name.toLowerCase()) {
    case 'content-length':
      return '0';
    case 'transfer-encoding':
      return 'chunked';
    case 'range':
      return 'bytes=0-1';
    case 'if-modified-since':
    case 'if-unmodified-since':
      return new Date(0).toUTCString();
    case 'cache-control':
      return 'max-stale';
    default:
      return 'x';
  }
}

const isFullPath = (names: readonly string[]) => names.some((name) => FULL_PATH.includes(name.toLowerCase()));

describe('which request fields send a request to the full path', () => {
  test('carriesFullPathField: any FULL_PATH name in any case, among any other fields', () => {
    fc.assert(
      fc.property(fc.array(fieldName, { maxLength: 20 }), (names) => {
        const raw = names.flatMap((name) => [name, valueFor(name)]);
        expect(carriesFullPathField(raw)).toBe(isFullPath(names));
      }),
    );
  });

  describe('through a real cache', () => {
    const env = useOriginAndCache({
      '/lang': (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'X-Lang' });
        res.end(`lang ${String(req.headers['x-lang'] ?? 'none')}`);
      },
      '/stored': (_req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain', etag: '"s1"' });
        res.end('stored body');
      },
    });
    beforeAll(async () => {
      await request(env.cache.url, '/stored');
      await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the entry to be stored');
      // Read once through the full path, so that the memory tier holds the body.
      await request(env.cache.url, '/stored', { headers: { pragma: 'x-full-path' } });
    });

    test('the variant a request selects by the fields its Vary names, read from the request (several stored)', async () => {
      const fastHit = env.cache.fastHit;
      if (!fastHit) throw new Error('the default options include a memory tier');
      const langs = ['en', 'fr', undefined];
      const ask = (lang: string | undefined) =>
        request(env.cache.url, '/lang', { headers: lang === undefined ? {} : { 'x-lang': lang } });
      for (const lang of langs) {
        await ask(lang);
        await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the variant to be stored');
        // Read once through the full path, so that the memory tier holds the body.
        await request(env.cache.url, '/lang', {
          headers: { pragma: 'x-full-path', ...(lang ? { 'x-lang': lang } : {}) },
        });
      }
      for (const lang of [...langs, ...langs.reverse()]) {
        const before = fastHit.served;
        const answer = await ask(lang);
        expect(fastHit.served).toBe(before + 1);
        expect(answer.headers['x-cache']).toBe('HIT');
        expect(answer.body.toString()).toBe(`lang ${lang ?? 'none'}`);
      }
      expect(env.origin.count('/lang')).toBe(3);
    });

    test('a request is answered by the fast path exactly when it carries none of those fields', async () => {
      const names = fc.uniqueArray(fieldName, { maxLength: 8, selector: (name) => name.toLowerCase() });
      await fc.assert(
        fc.asyncProperty(names, fc.constantFrom('GET', 'HEAD'), async (fields, method) => {
          const fastHit = env.cache.fastHit;
          if (!fastHit) throw new Error('the default options include a memory tier');
          const chunked = fields.some((name) => name.toLowerCase() === 'transfer-encoding');
          const lines = fields.map((name) => `${name}: ${valueFor(name)}\r\n`).join('');
          const raw =
            `${method} /stored HTTP/1.1\r\nHost: example.test\r\n${lines}Connection: close\r\n\r\n` +
            (chunked ? '0\r\n\r\n' : '');
          const before = fastHit.served;
          const { statuses } = await rawExchange(env.cache.url, raw);
          expect(statuses).toHaveLength(1);
          expect(fastHit.served - before).toBe(isFullPath(fields) ? 0 : 1);
        }),
        { numRuns: 60 },
      );
    });
  });
});
