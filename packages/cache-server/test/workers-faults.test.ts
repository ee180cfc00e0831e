import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import { createLayout } from '../src/store/layout.js';
import { tempDir } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';
import { fixed, startTestOrigin, type TestOrigin } from './helpers/test-origin.js';
import {
  collapseState,
  connectToEachWorker,
  listWorkers,
  startWorkersCli,
  untilStored,
  type WorkerConnection,
  type WorkersCli,
} from './helpers/workers.js';

const HALF = 128 * 1024;
const BODY = randomBytes(2 * HALF);

/** A response being received; `done` says whether it ended complete or broken. */
function stream(connection: WorkerConnection, target: string) {
  const chunks: Buffer[] = [];
  let headers: http.IncomingHttpHeaders | undefined;
  const done = new Promise<'complete' | 'broken'>((settle) => {
    const req = http.get({ host: '127.0.0.1', port: connection.port, path: target, agent: connection.agent }, (res) => {
      headers = res.headers;
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => settle(res.complete ? 'complete' : 'broken'));
      res.on('aborted', () => settle('broken'));
      res.on('error', () => settle('broken'));
    });
    req.on('error', () => settle('broken'));
  });
  return { done, bytes: () => Buffer.concat(chunks), headers: () => headers };
}

/** Until both workers listen again, neither of them `victim`. */
async function untilReplaced(cli: WorkersCli, victim: number): Promise<void> {
  await waitFor(
    async () => {
      const workers = await listWorkers(cli.url);
      return workers.length === 2 && workers.every((w) => w.listening && w.pid !== victim);
    },
    'a replacement worker',
    30_000,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * An origin answering `/stall/*` with half a body, the rest when the test releases it, and
 * `/hold/*` with nothing at all until then.
 */
function useStallingOrigin() {
  const release: (() => void)[] = [];
  let origin: TestOrigin | undefined;
  beforeAll(async () => {
    origin = await startTestOrigin({
      '/ok': fixed('fine', { 'cache-control': 'public, max-age=600' }),
      '*': (req, res) => {
        const head = () =>
          res.writeHead(200, { 'content-length': BODY.length, 'cache-control': 'public, max-age=600' });
        if (req.url?.startsWith('/hold/')) {
          release.push(() => {
            head();
            res.end(BODY);
          });
          return;
        }
        head();
        res.write(BODY.subarray(0, HALF));
        release.push(() => res.end(BODY.subarray(HALF)));
      },
    });
  });
  afterAll(async () => {
    for (const go of release) go();
    await origin?.close();
  });
  return {
    get origin() {
      return origin!;
    },
    releaseAll: () => release.splice(0).forEach((go) => go()),
  };
}

describe('--workers 2: a worker killed with SIGKILL', () => {
  const stalling = useStallingOrigin();
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cli: WorkersCli;
  let one: WorkerConnection;
  let two: WorkerConnection;

  beforeAll(async () => {
    dir = await tempDir();
    cli = await startWorkersCli(['--origin', stalling.origin.url, '--cache-dir', dir.dir]);
    [one, two] = (await connectToEachWorker(cli.url)) as [WorkerConnection, WorkerConnection];
    await one.get('/ok');
    await untilStored(two, '/ok');
  });
  afterAll(async () => {
    one?.close();
    two?.close();
    expect(await cli?.stop()).toBe(0);
    await dir?.cleanup();
  });

  test('is replaced at once; its clients and its followers get a broken connection, never a short body; nothing it half-wrote is stored; the other serves throughout', async () => {
    try {
      const victim = one.pid;
      // Its own client, mid-body, and a client of the other worker following its write.
      const own = stream(one, '/stall/a');
      await waitFor(() => own.bytes().length > 0, 'the victim to stream');
      const follower = stream(two, '/stall/a');
      await waitFor(() => follower.bytes().length > 0, 'the other worker to follow the write');
      expect(stalling.origin.count('/stall/a')).toBe(1);

      const killedAt = Date.now();
      process.kill(victim, 'SIGKILL');
      expect(await own.done).toBe('broken');
      expect(own.bytes().length).toBeLessThan(BODY.length);
      expect(await follower.done).toBe('broken');
      expect(follower.bytes().length).toBeLessThan(BODY.length);

      // The other worker keeps serving meanwhile (a fresh connection may land on either: only two is certain).
      expect((await two.get('/ok')).headers['x-cache']).toBe('HIT');
      // Forked again within a second (listening takes the new process's start-up on top).
      let replacement: number | undefined;
      await waitFor(async () => {
        const slot = (await listWorkers(`http://127.0.0.1:${two.port}`)).find((w) => w.slot === one.slot);
        replacement = slot && slot.pid !== victim ? slot.pid : undefined;
        return replacement !== undefined;
      }, 'a replacement worker');
      // "Within a second" by the primary's own clock (when it forked the replacement): the test's
      // round trips since the kill are not the supervisor's to answer for on a loaded machine.
      const forkedAt = (await listWorkers(`http://127.0.0.1:${two.port}`)).find((w) => w.pid === replacement)?.forkedAt;
      expect((forkedAt ?? Infinity) - killedAt).toBeLessThan(1000);
      expect(isAlive(victim)).toBe(false);

      // Nothing it was writing became visible, and its temp files are gone.
      expect((await two.get('/stall/a', { 'cache-control': 'only-if-cached' })).status).toBe(504);
      const tmp = createLayout(dir.dir).tmpDir;
      await waitFor(
        async () => !(await readdir(tmp)).some((name) => name.startsWith(`${victim}-`)),
        'its temp files to go',
      );

      await waitFor(
        async () => (await listWorkers(`http://127.0.0.1:${two.port}`)).every((w) => w.listening),
        'the replacement to listen',
        30_000,
      );
      const workers = await listWorkers(`http://127.0.0.1:${two.port}`);
      expect(workers.find((w) => w.slot === one.slot)).toMatchObject({ pid: replacement, restarts: 1 });
    } finally {
      stalling.releaseAll();
    }
  });

  test('killed before its origin answered: a miss of the other worker waiting on its fetch asks the origin itself', async () => {
    // The first test's victim is gone with its connection: one to each worker as they are now.
    one.close();
    two.close();
    [one, two] = (await connectToEachWorker(cli.url)) as [WorkerConnection, WorkerConnection];
    try {
      const victim = one.pid;
      const own = stream(one, '/hold/a');
      await waitFor(() => stalling.origin.count('/hold/a') === 1, 'the victim to ask the origin');
      // Nothing is being written yet, so the other worker's miss waits on the victim's lock.
      const waiter = stream(two, '/hold/a');
      await waitFor(async () => (await collapseState(cli.url)).waiting > 0, 'the other worker to wait');
      process.kill(victim, 'SIGKILL');
      expect(await own.done).toBe('broken');
      // Its lock went with it: the waiting worker fetches, and its client gets the whole body.
      await waitFor(() => stalling.origin.count('/hold/a') === 2, 'the waiting worker to fetch');
      stalling.releaseAll();
      expect(await waiter.done).toBe('complete');
      expect(waiter.bytes().equals(BODY)).toBe(true);
      await untilReplaced(cli, victim);
      one.close();
      two.close();
      [one, two] = (await connectToEachWorker(cli.url)) as [WorkerConnection, WorkerConnection];
    } finally {
      stalling.releaseAll();
    }
  });

  test('a worker stopped with SIGTERM drains and is replaced too', async () => {
    const victim = two.pid;
    process.kill(victim, 'SIGTERM');
    await waitFor(() => !isAlive(victim), 'the worker to exit');
    await untilReplaced(cli, victim);
  });
});

describe('--workers 2: SIGTERM to the primary drains every worker', () => {
  const stalling = useStallingOrigin();
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(() => dir?.cleanup());

  test('responses in flight finish whole, then every process exits 0 and no temp file is left', async () => {
    const cli = await startWorkersCli(['--origin', stalling.origin.url, '--cache-dir', dir.dir]);
    const [one, two] = (await connectToEachWorker(cli.url)) as [WorkerConnection, WorkerConnection];
    const first = stream(one, '/stall/drain');
    const second = stream(two, '/stall/other');
    await waitFor(() => first.bytes().length > 0 && second.bytes().length > 0, 'both to stream');

    cli.spawned.child.kill('SIGTERM');
    await waitFor(() => cli.spawned.stdout().includes('worker draining'), 'the workers to drain');
    // Draining: no new connection is taken, the ones in flight go on.
    stalling.releaseAll();
    expect(await first.done).toBe('complete');
    expect(await second.done).toBe('complete');
    expect(first.bytes().equals(BODY)).toBe(true);
    one.close();
    two.close();
    expect(await cli.spawned.exited).toBe(0);
    expect(isAlive(one.pid) || isAlive(two.pid)).toBe(false);
    expect(await readdir(createLayout(dir.dir).tmpDir)).toEqual([]);
  });
});
