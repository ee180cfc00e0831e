import { describe, expect, test } from '@jest/globals';
import { useOriginAndCache } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';

/** FUZZ_SEED reproduces a failing run; FUZZ_COUNT (and FUZZ_TIME, seconds) make a longer one: `pnpm fuzz`. */
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const COUNT = Number(process.env.FUZZ_COUNT ?? 2_000);
const CONCURRENCY = 24;
/** Hard bound on the whole run, whatever the count. */
const BUDGET_MS = Number(process.env.FUZZ_TIME ?? 25) * 1_000;
/** How long one connection may stay open; a request left incomplete on purpose ends here. */
const WAIT_MS = 400;

/** mulberry32: a tiny seeded PRNG, so every failure names the seed that reproduces it. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TEMPLATES = [
  'GET /p/{n} HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n',
  'HEAD /p/{n} HTTP/1.1\r\nHost: x\r\n\r\n',
  'GET /p/{n}?q=1&r=%20 HTTP/1.1\r\nHost: x\r\nIf-None-Match: "a"\r\nRange: bytes=0-3\r\n\r\n',
  'POST /p/{n} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
  'PUT /p/{n} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'DELETE /p/{n} HTTP/1.1\r\nHost: x\r\nCache-Control: no-cache\r\n\r\n',
  'GET /p/{n} HTTP/1.0\r\n\r\n',
];

const INSERTS = [
  '\r',
  '\n',
  '\r\n',
  '\0',
  ' ',
  '\t',
  ':',
  '%',
  '%00',
  '%2e%2e/',
  '/../',
  '\\',
  '//',
  '\r\n ',
  '\x7f',
  '\xff',
  '?',
  '#',
  'Transfer-Encoding: chunked\r\n',
  'Content-Length: 3\r\n',
  'Content-Length: -1\r\n',
  'Content-Length: 99999999999999999999\r\n',
  'Host: y\r\n',
  'Expect: 100-continue\r\n',
  'Connection: upgrade\r\nUpgrade: websocket\r\n',
  'X-Forwarded-Host: evil\r\n',
  'Vary: *\r\n',
  'Cache-Control: only-if-cached, max-stale\r\n',
  'Range: bytes=-1,0-,5-2\r\n',
];

/** One malformed request: a valid template with one to four random mutations. */
function mutate(random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  let text = pick(TEMPLATES).replace('{n}', String(Math.floor(random() * 20)));
  const mutations = 1 + Math.floor(random() * 4);
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(random() * (text.length + 1));
    switch (Math.floor(random() * 8)) {
      case 0: // flip one byte
        text = text.slice(0, at) + String.fromCharCode(Math.floor(random() * 256)) + text.slice(at + 1);
        break;
      case 1:
      case 2:
        text = text.slice(0, at) + pick(INSERTS) + text.slice(at);
        break;
      case 3: // delete a range
        text = text.slice(0, at) + text.slice(at + Math.floor(random() * 12));
        break;
      case 4: {
        // duplicate a line
        const lines = text.split('\r\n');
        const line = pick(lines);
        lines.splice(Math.floor(random() * lines.length), 0, line);
        text = lines.join('\r\n');
        break;
      }
      case 5: // truncate
        text = text.slice(0, at);
        break;
      case 6: // a long run (overlong targets and fields)
        text = text.slice(0, at) + pick(['a', '/', '%41', ' ']).repeat(Math.floor(random() * 20_000)) + text.slice(at);
        break;
      default: // swap method or version
        text =
          random() < 0.5
            ? text.replace(
                /^\S+/,
                pick(['GET', 'G ET', 'get', 'PRI', 'CONNECT', 'TRACE', 'M-SEARCH', 'X'.repeat(40), '']),
              )
            : text.replace(
                /HTTP\/1\.[01]/,
                pick(['HTTP/0.9', 'HTTP/1.2', 'HTTP/2', 'HTTX/1.1', 'HTTP/1.1 ', 'HTTP/01.1']),
              );
    }
  }
  return text;
}

describe(`fuzz: ${COUNT} malformed requests on raw sockets (seed ${SEED})`, () => {
  const env = useOriginAndCache(
    {
      '*': (req, res) => {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain', etag: '"e"' });
        res.end(`body of ${req.url}`);
      },
    },
    { originTimeout: 2_000, headersTimeout: 1_000 },
  );

  test(
    'no crash, no 5xx caused by the input, and the cache serves correctly afterwards',
    async () => {
      const random = prng(SEED);
      const inputs = Array.from({ length: COUNT }, () => mutate(random));
      const serverErrors: { index: number; status: number; input: string }[] = [];
      const statuses = new Map<number, number>();
      const deadline = Date.now() + BUDGET_MS;
      let next = 0;
      let sent = 0;
      const worker = async () => {
        while (next < inputs.length && Date.now() < deadline) {
          const index = next++;
          const input = inputs[index] as string;
          const { statuses: got } = await rawExchange(env.cache.url, Buffer.from(input, 'latin1'), WAIT_MS);
          sent++;
          for (const status of got) {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            if (status >= 500) serverErrors.push({ index, status, input: JSON.stringify(input.slice(0, 300)) });
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));

      expect(sent).toBeGreaterThanOrEqual(Math.min(COUNT, 1_000));
      // Every kind of answer came up (not only one refusal); no server error among them.
      expect([...statuses.keys()].filter((status) => status < 500).length).toBeGreaterThan(3);
      expect(serverErrors).toEqual([]);

      await waitFor(() => env.cache.proxy.inFlight.size === 0, 'fetches to settle');
      const first = await request(env.cache.url, '/after-fuzz');
      expect(first.status).toBe(200);
      expect(first.body.toString()).toBe('body of /after-fuzz');
      await waitFor(() => env.cache.proxy.inFlight.size === 0, 'the store');
      const second = await request(env.cache.url, '/after-fuzz');
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.body.toString()).toBe('body of /after-fuzz');
    },
    BUDGET_MS + 35_000,
  );
});
