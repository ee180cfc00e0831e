/**
 * Issue 17, "One access log line per request": every request the cache port answers writes
 * exactly one line, from the exchange's Outcome (fast-path hits included) or, for what Fastify
 * answers itself (admin endpoints, refusals), from its reply; Fastify's two lines per request are
 * gone. Requests go over real sockets to a cache writing its access log to a file, which is read
 * after the cache closed (closing flushes what the batch still holds).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CacheServerConfig } from '@simple-cache/common';
import { loadConfig } from '../src/config/load-config.js';
import { startTestCache, tempDir, type StartedCache } from './helpers/cache.js';
import { captureLog } from './helpers/captured-log.js';
import { parseAccessLines, readAccessLines, type AccessLine } from './helpers/access-lines.js';
import { request, waitFor } from './helpers/http.js';
import { rawExchange } from './helpers/raw.js';
import { spawn } from 'node:child_process';
import { PACKAGE_DIR, spawnCli } from './helpers/spawn.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { useTwoWorkers } from './helpers/workers.js';

const COOKIE = 'session=cookie-secret-4f1d';
const AUTHORIZATION = 'Bearer auth-secret-9c2e';

/**
 * nginx's `combined`, then the cache's fields: the regex a log tool configured for nginx uses, with
 * the tail this cache adds (X-Cache, fwd, rule, request time, origin time, request id).
 */
const COMBINED =
  /^(?<addr>\S+) - (?<user>\S+) \[(?<time>\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(?<method>[A-Z]+) (?<path>\S+) HTTP\/(?<version>1\.[01])" (?<status>\d{3}) (?<bytes>\d+) "(?<referer>(?:[^"\\]|\\.)*)" "(?<agent>(?:[^"\\]|\\.)*)" (?<cache>\S+) (?<fwd>\S+) (?<rule>\S+) (?<rt>\d+\.\d{3}) (?<urt>\d+\.\d{3}|-) (?<id>\S+)$/;

let origin: TestOrigin;
let dir: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  dir = await tempDir();
  origin = await startTestOrigin({
    '/page': (_req, res) => {
      res.writeHead(200, { 'content-length': 5, 'cache-control': 'max-age=600' });
      res.end('hello');
    },
    '/form': fixed('posted', { 'cache-control': 'no-store' }),
    '/search': fixed('results', { 'cache-control': 'max-age=600' }),
    '/broken': (req) => req.socket.destroy(),
  });
});
afterAll(async () => {
  await origin?.close();
  await dir?.cleanup();
});

/** A cache logging to its own file, its pino lines collected; `run` sends the requests, then it closes. */
async function withCache(
  extra: Partial<CacheServerConfig>,
  run: (cache: StartedCache) => Promise<void>,
): Promise<{ access: string[]; app: string[] }> {
  const file = path.join(dir.dir, `access-${Math.random().toString(36).slice(2)}.log`);
  const { logger, raw: app } = captureLog('info', { cacheLogger: true });
  const cache = await startTestCache(
    { origin: origin.url, cacheDir: `${file}.cache`, accessLog: 'json', accessLogFile: file, ...extra },
    { logger },
  );
  try {
    await run(cache);
  } finally {
    await cache.close();
  }
  const access = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
  return { access, app };
}

const json = (lines: string[]) => parseAccessLines(lines.join('\n'));
const credentials = { cookie: COOKIE, authorization: AUTHORIZATION };

async function stored(cache: StartedCache, pathname: string): Promise<void> {
  await waitFor(async () => (await cache.store.lookup(`${origin.url}${pathname}`)).length > 0, `${pathname} stored`);
}

describe('one JSON line per request, from the Outcome', () => {
  let lines: AccessLine[];
  let app: string[];
  let fastHits = 0;

  beforeAll(async () => {
    const logged = await withCache({}, async (cache) => {
      // (Authorization would keep the response out of the store: RFC 9111 §3.5.)
      expect((await request(cache.url, '/page', { headers: { cookie: COOKIE } })).headers['x-cache']).toBe('MISS');
      await stored(cache, '/page');
      const fastBefore = cache.fastHit?.served ?? 0;
      const hit = await request(cache.url, '/page', { headers: { 'user-agent': 'curl/8' } });
      expect(hit.headers['x-cache']).toBe('HIT');
      fastHits = (cache.fastHit?.served ?? 0) - fastBefore;
      const post = await request(cache.url, '/form', { method: 'POST', body: 'a=1', headers: credentials });
      expect(post.headers['x-cache']).toBe('BYPASS');
      expect((await request(cache.url, '/broken', { headers: credentials })).status).toBe(502);
      expect((await request(cache.url, '/_cache/stats')).status).toBe(200);
      const refused = await rawExchange(cache.url, 'GET /refused HTTP/1.1\r\nHost: a/b\r\nConnection: close\r\n\r\n');
      expect(refused.statuses).toEqual([400]);
    });
    lines = json(logged.access);
    app = logged.app;
  });

  test('six requests, six lines, six request ids; Fastify’s two lines per request are gone', () => {
    expect(fastHits).toBe(1);
    expect(lines.map((line) => `${line.method} ${line.path} ${line.status} ${line.cache}`)).toEqual([
      'GET /page 200 MISS',
      'GET /page 200 HIT',
      'POST /form 200 BYPASS',
      'GET /broken 502 MISS',
      'GET /_cache/stats 200 ',
      'GET /refused 400 BYPASS',
    ]);
    expect(new Set(lines.map((line) => line.reqId)).size).toBe(6);
    expect(app.filter((line) => /incoming request|request completed/.test(line))).toEqual([]);
  });

  test('a miss: origin time, Cache-Status forward reason, bytes, client, duration', () => {
    const miss = lines[0] as AccessLine;
    expect(miss).toMatchObject({ level: 30, msg: 'request', client: '127.0.0.1', bytes: 5, fwd: 'uri-miss' });
    expect(miss.reqId).toMatch(/^req-[0-9a-z]+$/);
    expect(typeof miss.originMs).toBe('number');
    expect(miss.ms).toBeGreaterThanOrEqual(miss.originMs as number);
    expect(Math.abs(miss.time - Date.now())).toBeLessThan(60_000);
  });

  test('a hit answered on the fast path: no origin time, no forward reason', () => {
    const hit = lines[1] as AccessLine;
    expect(hit).toMatchObject({ status: 200, bytes: 5, cache: 'HIT' });
    expect(hit.originMs).toBeUndefined();
    expect(hit.fwd).toBeUndefined();
  });

  test('a pass-through and an origin error: the error line in the app log carries the same request id', () => {
    expect(lines[2]).toMatchObject({ method: 'POST', fwd: 'method', bytes: 6 });
    const error = lines[3] as AccessLine;
    expect(error.error).toBe('CACHE_ERR_ORIGIN_UNREACHABLE');
    const appError = app.map((line) => JSON.parse(line) as { reqId?: string; code?: string });
    expect(appError.filter((line) => line.code === 'CACHE_ERR_ORIGIN_UNREACHABLE').map((line) => line.reqId)).toEqual([
      error.reqId,
    ]);
  });

  test('what Fastify answers itself: the admin endpoint, a refused Host (with the target the client sent)', () => {
    expect(lines[4]?.bytes).toBeGreaterThan(0);
    expect(lines[5]).toMatchObject({ status: 400, error: 'CACHE_ERR_BAD_HOST', path: '/refused' });
  });

  test('no Cookie or Authorization value in any line, access log or app log', () => {
    const everything = [...lines.map((line) => JSON.stringify(line)), ...app].join('\n');
    expect(everything).not.toContain('cookie-secret');
    expect(everything).not.toContain('auth-secret');
  });
});

describe('the query string', () => {
  test('redacted unless --access-log-query: it may carry tokens', async () => {
    const send = (cache: StartedCache) => request(cache.url, '/search?q=shoes&token=tok-secret-77');
    const redacted = json((await withCache({}, async (cache) => void (await send(cache)))).access);
    expect(redacted.map((line) => line.path)).toEqual(['/search?[Redacted]']);
    const kept = json((await withCache({ accessLogQuery: true }, async (cache) => void (await send(cache)))).access);
    expect(kept.map((line) => line.path)).toEqual(['/search?q=shoes&token=tok-secret-77']);
  });
});

describe('fast hits: their lines are written as bytes from a fragment per stored response (src/access-fast-line.ts)', () => {
  test('GET and HEAD on one entry, a general line between them, in order; an admin token in a logged query redacted', async () => {
    const token = 'admin-tok-secret-5e1b';
    let fastHits = 0;
    const { access } = await withCache({ accessLogQuery: true, adminToken: token }, async (cache) => {
      await request(cache.url, '/page');
      await stored(cache, '/page');
      await request(cache.url, `/search?token=${token}`);
      await stored(cache, `/search?token=${token}`);
      const before = cache.fastHit?.served ?? 0;
      await request(cache.url, '/page');
      await request(cache.url, '/page', { method: 'HEAD' });
      await request(cache.url, '/form', { method: 'POST', body: 'a' });
      await request(cache.url, '/page');
      await request(cache.url, `/search?token=${token}`);
      fastHits = (cache.fastHit?.served ?? 0) - before;
    });
    expect(fastHits).toBe(4);
    const lines = json(access);
    expect(lines.map((line) => `${line.method} ${line.path} ${line.status} ${line.bytes} ${line.cache}`)).toEqual([
      'GET /page 200 5 MISS',
      'GET /search?token=[Redacted] 200 7 MISS',
      'GET /page 200 5 HIT',
      'HEAD /page 200 0 HIT',
      'POST /form 200 6 BYPASS',
      'GET /page 200 5 HIT',
      'GET /search?token=[Redacted] 200 7 HIT',
    ]);
    expect(access.join('\n')).not.toContain(token);
    expect(new Set(lines.map((line) => line.reqId)).size).toBe(lines.length);
    expect(lines.every((line) => line.client === '127.0.0.1' && line.ms >= 0)).toBe(true);
  });
});

describe('combined: nginx’s format plus the cache’s fields', () => {
  test('every line parses with an nginx-style regex; quotes in fields are escaped as nginx does', async () => {
    const { access } = await withCache({ accessLog: 'combined' }, async (cache) => {
      await request(cache.url, '/page?x=1', {
        headers: { referer: 'http://shop.example/"list"', 'user-agent': 'Bot/1.0' },
      });
      await stored(cache, '/page?x=1');
      await request(cache.url, '/page?x=1', { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' } });
      await request(cache.url, '/form', { method: 'POST', body: 'a' });
      // Repeated lines, names in any case: the first counts, as in Node's req.headers (a fast hit reads them raw).
      const fastBefore = cache.fastHit?.served ?? 0;
      const repeated = await rawExchange(
        cache.url,
        'GET /page?x=1 HTTP/1.1\r\nHost: a\r\nUSER-AGENT: first/1\r\nReferer: r1\r\nuser-agent: second/2\r\n' +
          'referer: r2\r\nConnection: close\r\n\r\n',
      );
      expect(repeated.statuses).toEqual([200]);
      expect((cache.fastHit?.served ?? 0) - fastBefore).toBe(1);
    });
    const parsed = access.map((line) => COMBINED.exec(line)?.groups);
    expect(parsed.every((groups) => groups !== undefined)).toBe(true);
    const [miss, hit, post, repeated] = parsed as Record<string, string>[];
    expect(repeated).toMatchObject({ cache: 'HIT', agent: 'first/1', referer: 'r1' });
    expect(miss).toMatchObject({
      addr: '127.0.0.1',
      method: 'GET',
      path: '/page?[Redacted]',
      status: '200',
      bytes: '5',
      referer: 'http://shop.example/\\x22list\\x22',
      agent: 'Bot/1.0',
      cache: 'MISS',
      fwd: 'uri-miss',
      rule: '-',
    });
    expect(miss?.urt).not.toBe('-');
    expect(hit).toMatchObject({
      cache: 'HIT',
      fwd: '-',
      urt: '-',
      agent: 'Mozilla/5.0 (X11; Linux x86_64)',
      referer: '-',
    });
    expect(post).toMatchObject({ method: 'POST', cache: 'BYPASS', fwd: 'method' });
  });
});

describe('--access-log off', () => {
  test('writes nothing, and Fastify’s request lines stay gone', async () => {
    const file = path.join(dir.dir, 'off.log');
    const { logger, raw: app } = captureLog('info', { cacheLogger: true });
    const cache = await startTestCache(
      { origin: origin.url, cacheDir: `${file}.cache`, accessLog: 'off', accessLogFile: file },
      { logger },
    );
    await request(cache.url, '/page');
    await cache.close();
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(app.join('')).not.toMatch(/incoming request|request completed/);
  });
});

describe('an access log file the cache cannot write', () => {
  test('fails start-up with a message naming the option, as nginx does', async () => {
    const file = path.join(dir.dir, 'not-a-dir');
    await writeFile(file, '');
    await expect(
      startTestCache({
        origin: origin.url,
        cacheDir: `${file}.cache`,
        accessLog: 'json',
        accessLogFile: path.join(file, 'access.log'),
      }),
    ).rejects.toThrow(/cannot open --access-log-file .*not-a-dir\/access\.log for writing \((ENOTDIR|EEXIST)\)/);
  });
});

describe('SIGHUP reopens the file (logrotate moves it, then signals)', () => {
  test('lines before the signal stay in the moved file, lines after go to a new one', async () => {
    const file = path.join(dir.dir, 'rotated.log');
    const run = spawnCli(['0', '--host', '127.0.0.1', '--origin', origin.url, '--access-log-file', file], {
      CACHE_DIR: path.join(dir.dir, 'rotated-cache'),
    });
    const linesOf = readAccessLines;
    try {
      const url = await run.listening();
      await request(url, '/form?before');
      // Batched: the line reaches the file within the flush interval (1 s).
      await waitFor(async () => (await linesOf(file)).length === 1, 'the first line to be written');
      await rename(file, `${file}.1`);
      run.child.kill('SIGHUP');
      await waitFor(() => run.stdout().includes('"msg":"config reloaded"'), 'the SIGHUP to be handled');
      await request(url, '/form?after');
      await waitFor(async () => (await linesOf(file)).length === 1, 'the line after the signal');
      expect((await linesOf(`${file}.1`)).map((line) => line.path)).toEqual(['/form?[Redacted]']);
      expect((await linesOf(file)).map((line) => line.path)).toEqual(['/form?[Redacted]']);
      // Access lines never go to stdout when a file is set.
      expect(run.stdout()).not.toContain('"msg":"request"');
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });
});

describe('nothing batched is lost when the process ends', () => {
  test('SIGTERM: every request answered before the signal has its line in the file', async () => {
    const file = path.join(dir.dir, 'terminated.log');
    const run = spawnCli(['0', '--host', '127.0.0.1', '--origin', origin.url, '--access-log-file', file], {
      CACHE_DIR: path.join(dir.dir, 'terminated-cache'),
    });
    let exited = false;
    try {
      const url = await run.listening();
      for (let i = 0; i < 20; i++) expect((await request(url, `/form?n=${i}`)).status).toBe(200);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      exited = true;
    } finally {
      if (!exited) run.child.kill('SIGKILL');
    }
    expect((await readAccessLines(file)).map((line) => line.path)).toEqual(Array(20).fill('/form?[Redacted]'));
  });

  test('process.exit() without a shutdown: the exit writes the batch (many batches, in order, none split)', async () => {
    const file = path.join(dir.dir, 'exited.log');
    // Lines longer than a character per byte (é: 2 bytes, 😀: 4) cross the 32 KiB batches at odd offsets.
    const script = `
      import pino from 'pino';
      import { createAccessLog } from './src/access-log.ts';
      const log = createAccessLog({ format: 'json', file: ${JSON.stringify(file)}, query: true, logger: pino({ level: 'silent' }) });
      const req = { socket: { remoteAddress: '127.0.0.1' }, headers: {}, httpVersion: '1.1' };
      for (let i = 0; i < 3000; i++) {
        log.onOutcome({ method: 'GET', target: '/é😀/' + i, status: 200, bytes: i, xCache: 'HIT', cacheStatus: {},
          rule: '', errorCode: '', startedAt: Date.now(), durationMs: 0.5, originMs: undefined, aborted: false }, req);
      }
      process.exit(0);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: PACKAGE_DIR,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`the script exited with ${String(code)}: ${stderr}`);
    const lines = await readAccessLines(file);
    expect(lines.map((line) => line.bytes)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(lines[2999]?.path).toBe('/é😀/2999');
  });
});

describe('--workers 2: SIGHUP to the primary reopens every worker’s file', () => {
  let file = '';
  const workers = useTwoWorkers({ '*': fixed('ok', { 'cache-control': 'no-store' }) }, async () => {
    file = path.join(dir.dir, 'workers-access.log');
    return ['--access-log-file', file];
  });
  const paths = async (name: string) =>
    (await readAccessLines(name))
      .map((line) => line.path)
      // The helper finds each worker through the admin endpoint: those calls are logged too.
      .filter((logged) => !logged.startsWith('/_cache/'))
      .sort();

  test('each worker writes its lines to the file in place when the line is written', async () => {
    await workers.one.get('/one-before');
    await workers.two.get('/two-before');
    await waitFor(async () => (await paths(file)).length === 2, 'both workers’ lines');
    await rename(file, `${file}.1`);
    workers.cli.spawned.child.kill('SIGHUP');
    await waitFor(
      () => workers.cli.spawned.stdout().split('"msg":"config reloaded"').length - 1 === 3,
      'the primary and both workers to handle the signal',
    );
    await workers.one.get('/one-after');
    await workers.two.get('/two-after');
    await waitFor(async () => (await paths(file)).length === 2, 'both workers’ lines in the new file');
    expect(await paths(`${file}.1`)).toEqual(['/one-before', '/two-before']);
    expect(await paths(file)).toEqual(['/one-after', '/two-after']);
  });
});

describe('--access-log, --access-log-file, --access-log-query: flag > environment > config file > default', () => {
  const load = (argv: string[], env: Record<string, string> = {}) => loadConfig(argv, env).config;

  test.each<[string[], Record<string, string>, Partial<CacheServerConfig>]>([
    [[], {}, { accessLog: 'json', accessLogFile: '', accessLogQuery: false }],
    [['--access-log', 'combined'], {}, { accessLog: 'combined' }],
    [['--access-log', 'OFF'], { CACHE_ACCESS_LOG: 'combined' }, { accessLog: 'off' }],
    [[], { CACHE_ACCESS_LOG: 'combined' }, { accessLog: 'combined' }],
    [['--access-log-file', '/var/log/cache/access.log'], {}, { accessLogFile: '/var/log/cache/access.log' }],
    [['--access-log-file', 'stdout'], { CACHE_ACCESS_LOG_FILE: '/tmp/a.log' }, { accessLogFile: '' }],
    [['--access-log-file', 'logs/a.log'], {}, { accessLogFile: path.resolve('logs/a.log') }],
    [[], { CACHE_ACCESS_LOG_QUERY: 'on' }, { accessLogQuery: true }],
  ])('%j %j → %j', (argv, env, expected) => {
    expect(load(argv, env)).toMatchObject(expected);
  });

  test('the config file takes them under their flag names', async () => {
    const file = path.join(dir.dir, 'access.yaml');
    await writeFile(file, 'access-log: combined\naccess-log-file: /srv/access.log\naccess-log-query: on\n');
    expect(load(['--config', file])).toMatchObject({
      accessLog: 'combined',
      accessLogFile: '/srv/access.log',
      accessLogQuery: true,
    });
    expect(load(['--config', file, '--access-log', 'json'])).toMatchObject({ accessLog: 'json' });
  });

  test.each<[string[], RegExp]>([
    [['--access-log', 'common'], /invalid --access-log "common": expected json, combined or off/],
    [['--access-log-file', ''], /invalid --access-log-file/],
    [['--access-log-query', 'maybe'], /invalid --access-log-query "maybe": expected on or off/],
  ])('%j is refused with a message naming the option', (argv, message) => {
    expect(() => load(argv)).toThrow(message);
  });
});
