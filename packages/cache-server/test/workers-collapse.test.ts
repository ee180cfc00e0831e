import { beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import { gatedOrigin } from './helpers/gated-origin.js';
import { streamGet, waitFor, type Streaming } from './helpers/http.js';
import { untilStored, useTwoWorkers, type WorkerConnection } from './helpers/workers.js';

const HALF = 256 * 1024;

function stream(connection: WorkerConnection, path: string): Promise<Streaming> {
  const url = new URL(`http://x${path}`);
  return streamGet({ host: '127.0.0.1', port: connection.port, path: url.pathname, agent: connection.agent });
}

describe('--workers 2: concurrent misses for one key make one origin request', () => {
  const gated = gatedOrigin({ first: HALF, sizeOf: () => 2 * HALF });
  const workers = useTwoWorkers({ '*': gated.route });
  let one: WorkerConnection;
  let two: WorkerConnection;
  beforeAll(() => {
    ({ one, two } = workers);
  });

  test('the other worker streams the body as it is written: its client has bytes before the origin has sent them all', async () => {
    const first = await stream(one, '/big');
    await waitFor(() => first.bytes().length > 0, 'the first worker to stream');
    const second = await stream(two, '/big');
    // The origin has sent only half: a worker that waited for the stored entry would send nothing yet.
    await waitFor(() => second.bytes().length > 0, 'the second worker to stream before the origin finished');
    expect(workers.origin.count('/big')).toBe(1);
    gated.open('/big');
    expect(await first.done).toBe('complete');
    expect(await second.done).toBe('complete');
    expect(first.bytes().equals(gated.bodyOf('/big'))).toBe(true);
    expect(second.bytes().equals(gated.bodyOf('/big'))).toBe(true);
    expect(second.headers['x-cache']).toBe('MISS');
    expect(second.headers['cache-status']).toMatch(/fwd=uri-miss; fwd-status=200; stored; collapsed/);
    expect(workers.origin.count('/big')).toBe(1);
    // And it was stored once, for both.
    expect((await untilStored(two, '/big')).headers['x-cache']).toBe('HIT');
    expect((await one.get('/big')).headers['x-cache']).toBe('HIT');
  });

  test('many clients on both workers at once: still one origin request, every body whole', async () => {
    // One on each worker's connection, four more on new connections (whichever worker takes them).
    const fresh = (): WorkerConnection => ({ ...one, agent: new http.Agent({ keepAlive: false }) });
    const clients = await Promise.all([one, two, fresh(), fresh(), fresh(), fresh()].map((c) => stream(c, '/crowd')));
    await waitFor(() => clients.every((client) => client.bytes().length > 0), 'every client to have bytes');
    gated.open('/crowd');
    for (const client of clients) {
      expect(await client.done).toBe('complete');
      expect(client.bytes().equals(gated.bodyOf('/crowd'))).toBe(true);
    }
    expect(workers.origin.count('/crowd')).toBe(1);
  });
});
