import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import https from 'node:https';
import { readAccessLines } from './helpers/access-lines.js';
import { tempDir } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { connectToEachWorker, listWorkers, startWorkersCli, type WorkersCli } from './helpers/workers.js';

/** A GET over HTTPS that trusts any certificate (the cluster made a self-signed one). */
function httpsGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe('--workers 2: the primary names every listener, and the access log tells every process apart', () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cli: WorkersCli;
  let logFile: string;

  beforeAll(async () => {
    origin = await startTestOrigin({ '/page': fixed('page', { 'cache-control': 'max-age=60' }) });
    dir = await tempDir();
    logFile = `${dir.dir}/access.log`;
    cli = await startWorkersCli([
      '--origin',
      origin.url,
      '--cache-dir',
      `${dir.dir}/cache`,
      '--tls-cert',
      'self-signed',
      '--tls-port',
      '0',
      '--admin-port',
      '0',
      '--access-log',
      'json',
      '--access-log-file',
      logFile,
    ]);
  }, 60_000);
  afterAll(async () => {
    if (cli) expect(await cli.stop()).toBe(0);
    await origin?.close();
    await dir?.cleanup();
  });

  /** The primary's ready line, as JSON. */
  const readyLine = () => {
    const line = cli.spawned
      .stdout()
      .split('\n')
      .find((text) => text.includes('"msg":"cache-server ready'));
    return JSON.parse(line ?? '{}') as Record<string, unknown>;
  };
  /** The access lines written so far (each process flushes its batch at least once a second). */
  const accessLines = () => readAccessLines(logFile);
  const linesFor = async (path: string) => (await accessLines()).filter((line) => line.path === path);

  test('the ready line names the plain, HTTPS and admin listeners, and each of them answers', async () => {
    const ready = readyLine();
    expect(ready.http).toBe(`${cli.url}/`);
    expect(ready.https).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    expect(ready.msg).toBe(
      `cache-server ready; HTTPS (HTTP/2) at ${String(ready.https)}; dashboard at ${String(ready.https)}_cache/`,
    );
    expect(ready.adminPort).toEqual(expect.any(Number));
    expect(await httpsGet(`${String(ready.https)}page`)).toBe(200);
    expect((await request(cli.url, '/page')).status).toBe(200);
    expect((await request(`http://127.0.0.1:${String(ready.adminPort)}`, '/_cache/health')).status).toBe(200);
  });

  test('request ids are unique across workers: each carries its worker slot', async () => {
    const [one, two] = await connectToEachWorker(cli.url);
    try {
      for (let i = 0; i < 3; i++) {
        expect((await one?.get('/page?from=one'))?.status).toBe(200);
        expect((await two?.get('/page?from=two'))?.status).toBe(200);
      }
    } finally {
      one?.close();
      two?.close();
    }
    await waitFor(async () => (await linesFor('/page?[Redacted]')).length === 6, 'six access lines');
    const ids = (await linesFor('/page?[Redacted]')).map((line) => line.reqId);
    expect(new Set(ids).size).toBe(6);
    expect(ids.filter((id) => /^req-1-[0-9a-z]+$/.test(id))).toHaveLength(3);
    expect(ids.filter((id) => /^req-2-[0-9a-z]+$/.test(id))).toHaveLength(3);
  });

  test('a request on --admin-port has one access line, from the primary; one through a worker has one too, from it', async () => {
    const adminPort = Number(readyLine().adminPort);
    expect((await request(`http://127.0.0.1:${adminPort}`, '/_cache/stats')).status).toBe(200);
    expect((await request(cli.url, '/_cache/entries')).status).toBe(200);
    await waitFor(async () => (await linesFor('/_cache/stats')).length === 1, 'the admin port request logged');
    await waitFor(async () => (await linesFor('/_cache/entries')).length === 1, 'the forwarded request logged');
    const [onAdminPort] = await linesFor('/_cache/stats');
    expect(onAdminPort).toMatchObject({
      method: 'GET',
      status: 200,
      reqId: expect.stringMatching(/^req-0-[0-9a-z]+$/),
    });
    const [forwarded] = await linesFor('/_cache/entries');
    expect(forwarded).toMatchObject({ status: 200, reqId: expect.stringMatching(/^req-[12]-[0-9a-z]+$/) });
    // Neither is logged twice. A later request on --admin-port is the primary's next line: once it
    // is in the file, any line the primary wrote before it is too (one ordered buffer per process).
    expect((await request(`http://127.0.0.1:${adminPort}`, '/_cache/health')).status).toBe(200);
    await waitFor(async () => (await linesFor('/_cache/health')).length === 1, 'the later admin port request logged');
    expect(await linesFor('/_cache/stats')).toHaveLength(1);
    expect(await linesFor('/_cache/entries')).toHaveLength(1);
  });

  test('a worker that replaces a killed one does not reuse its ids', async () => {
    const [first] = await listWorkers(cli.url);
    process.kill(first?.pid ?? 0, 'SIGKILL');
    await waitFor(
      async () =>
        (await listWorkers(cli.url)).some(
          (worker) => worker.slot === first?.slot && worker.restarts === 1 && worker.listening,
        ),
      'the replacement to listen',
      20_000,
    );
    const connections = await connectToEachWorker(cli.url);
    const replacement = connections.find((connection) => connection.slot === first?.slot);
    try {
      expect((await replacement?.get('/page?from=replacement'))?.status).toBe(200);
    } finally {
      for (const connection of connections) connection.close();
    }
    const prefix = `req-${first?.slot}.1-`;
    await waitFor(
      async () => (await accessLines()).some((line) => line.reqId.startsWith(prefix)),
      `an id starting ${prefix}`,
    );
    const ids = (await accessLines()).map((line) => line.reqId);
    expect(new Set(ids).size).toBe(ids.length);
  }, 30_000);
});
