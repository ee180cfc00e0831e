import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import { listFiles, tempDir } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';
import { spawnCli } from './helpers/spawn.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import { OPTIONS } from '../src/config/option-table.js';

describe('cache-server command line', () => {
  test('--help lists every option with its default and environment variable', async () => {
    const run = spawnCli(['--help']);
    expect(await run.exited).toBe(0);
    for (const option of OPTIONS) {
      expect(run.stdout()).toContain(`--${option.flag}`);
      expect(run.stdout()).toContain(option.env);
    }
    expect(run.stdout()).toContain('default: 8001');
    expect(run.stdout()).toContain('default: http://localhost:8000');
  });

  test.each([
    [['70000'], /invalid --port "70000": expected a port number/],
    [['--bogus'], /unknown option --bogus/],
    [['--max-size', 'huge'], /invalid --max-size "huge": expected a size/],
    [['--origin', 'localhost:8000'], /invalid --origin "localhost:8000": expected an http\(s\) URL with scheme/],
    [['--origin-timeout', 'soon'], /invalid --origin-timeout "soon": expected a duration/],
  ])('%j stops start-up with one line naming the option', async (args, message) => {
    const run = spawnCli(args);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toMatch(message);
    expect(run.stderr().trim().split('\n')).toHaveLength(1);
  });

  test('an invalid environment variable names the variable', async () => {
    const run = spawnCli([], { CACHE_MAX_SIZE: 'lots' });
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toMatch(/invalid CACHE_MAX_SIZE "lots"/);
  });
});

describe('graceful shutdown', () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let release: () => void = () => {};
  let arrived = false;

  beforeAll(async () => {
    dir = await tempDir();
    origin = await startTestOrigin({
      '/slow': (_req, res) => {
        arrived = true;
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 8 });
        res.write('half');
        release = () => res.end('done');
      },
    });
  });
  afterAll(async () => {
    await origin?.close();
    await dir?.cleanup();
  });

  test('SIGTERM finishes the in-flight response, exits 0 and leaves no temporary file', async () => {
    const run = spawnCli(['0', '--host', '127.0.0.1', '--origin', origin.url, '--cache-dir', dir.dir], {
      CACHE_LOG_LEVEL: 'info',
    });
    const url = await run.listening();
    // The dashboard's address is printed for the person who started the cache.
    await waitFor(() => run.stdout().includes('cache-server ready'), 'the ready line');
    expect(run.stdout()).toContain(`dashboard at ${url}/_cache/`);
    const body = new Promise<string>((resolve, reject) => {
      http.get(`${url}/slow`, { agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
        res.on('aborted', () => reject(new Error('aborted')));
      });
    });
    await waitFor(() => arrived, 'the request to reach the origin');
    run.child.kill('SIGTERM');
    await waitFor(() => run.stdout().includes('shutting down'), 'the signal to be handled while the body is pending');
    release();
    expect(await body).toBe('halfdone');
    expect(await run.exited).toBe(0);
    expect((await listFiles(dir.dir)).filter((f) => f.includes('/v1/tmp/'))).toEqual([]);
  });
});
