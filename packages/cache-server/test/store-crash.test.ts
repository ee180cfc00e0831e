import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createCipheriv, createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { DiskStore } from '../src/store/disk-store.js';
import { tempDir } from './helpers/cache.js';
import { request, waitFor } from './helpers/http.js';
import { spawnCli, type Spawned } from './helpers/spawn.js';
import { startTestOrigin, type TestOrigin } from './helpers/test-origin.js';

const KiB = 1024;
/** Sizes cycle through small (memory-tier size), medium and large bodies. */
const SIZES = [1 * KiB, 30 * KiB, 200 * KiB, 1024 * KiB, 2048 * KiB];
const OBJECTS = 80;
const CONCURRENCY = 30;
/** Responses completed before the kill: enough that some entries are committed, few enough that many writes are in flight. */
const KILL_AFTER = 25;
/** Entries the store must have committed before the kill, so that the restart has stored bodies to serve. */
const COMMITTED_BEFORE_KILL = 3;

const bodies = new Map<string, Buffer>();

/** The origin's bytes for a path: deterministic, different for every path, of the path's size. */
function bodyOf(urlPath: string): Buffer {
  let body = bodies.get(urlPath);
  if (body === undefined) {
    const index = Number(urlPath.split('/').pop());
    const size = SIZES[index % SIZES.length] as number;
    // AES-CTR over zeros, keyed by the path: fast, deterministic, distinct bytes per path.
    const key = createHash('sha256').update(urlPath).digest().subarray(0, 16);
    body = createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
    bodies.set(urlPath, body);
  }
  return body;
}

/** Streams slowly enough (one 64 KiB piece per turn of the event loop) that large bodies are mid-write at the kill. */
function streamBody(res: http.ServerResponse, body: Buffer): void {
  let offset = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (offset >= body.length) {
      res.end();
      return;
    }
    res.write(body.subarray(offset, offset + 64 * KiB));
    offset += 64 * KiB;
    setImmediate(next);
  };
  next();
}

function get(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.on('data', () => undefined);
        res.on('end', resolve);
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('aborted')));
      })
      .on('error', reject);
  });
}

/**
 * kill -9 under load, for real: the CLI process is killed while dozens of responses are being
 * streamed to clients and written to the store (some of unknown length, some large), then
 * started again on the same directory. Whatever it serves afterwards must be byte-identical to
 * the origin's body, a hit or a fresh miss — never a truncated or mixed body — and the store
 * must hold only complete, verified entries.
 *
 * (A process crash, not a power cut: data the kernel already accepted survives either way; the
 * fsync-before-rename order is what covers power loss, and that cannot be tested here.)
 */
describe('crash safety: SIGKILL mid-load, then restart on the same directory', () => {
  let origin: TestOrigin;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let run: Spawned | undefined;

  beforeAll(async () => {
    origin = await startTestOrigin({
      '*': (req, res) => {
        const urlPath = req.url ?? '/';
        const body = bodyOf(urlPath);
        const index = Number(urlPath.split('/').pop());
        // Every third response has no Content-Length: its size is known only at the end.
        const headers: http.OutgoingHttpHeaders = { 'cache-control': 'max-age=3600' };
        if (index % 3 !== 0) headers['content-length'] = body.length;
        res.writeHead(200, headers);
        streamBody(res, body);
      },
    });
    dir = await tempDir();
  });
  afterAll(async () => {
    run?.child.kill('SIGKILL');
    await origin.close();
    await dir.cleanup();
  });

  function startCli(): Spawned {
    return spawnCli(['0', '--host', '127.0.0.1', '--origin', origin.url, '--cache-dir', dir.dir], {
      CACHE_LOG_LEVEL: 'info',
    });
  }

  test('every body served after the restart is the origin’s, byte for byte; the store holds only whole entries', async () => {
    const paths = Array.from({ length: OBJECTS }, (_, i) => `/obj/${i}`);

    // 1. Load, and kill -9 once KILL_AFTER responses are complete and some entries committed (a
    // response reaches its client before its entry is committed: under load, long before).
    run = startCli();
    const first = run;
    const url = await first.listening();
    let completed = 0;
    let killed = false;
    const queue = [...paths];
    const worker = async (): Promise<void> => {
      for (let p = queue.shift(); p !== undefined && !killed; p = queue.shift()) {
        try {
          await get(`${url}${p}`);
          completed += 1;
        } catch {
          // The kill cut this one off.
        }
      }
    };
    const committed = async (): Promise<number> => {
      const stats = await request(url, '/_cache/stats').catch(() => undefined);
      return stats?.status === 200
        ? (JSON.parse(stats.body.toString()) as { store: { entries: number } }).store.entries
        : 0;
    };
    const killer = (async () => {
      await waitFor(
        async () => completed >= KILL_AFTER && (await committed()) >= COMMITTED_BEFORE_KILL,
        'responses and commits before the kill',
        60_000,
      );
      killed = true;
      first.child.kill('SIGKILL');
    })();
    await Promise.all([...Array.from({ length: CONCURRENCY }, worker), killer]);
    await first.exited;
    expect(killed).toBe(true);

    // 2. Restart on the same directory and ask for everything.
    run = startCli();
    const second = run;
    const url2 = await second.listening();
    const seen: string[] = [];
    for (const p of paths) {
      const reply = await request(url2, p);
      expect(reply.status).toBe(200);
      if (!reply.body.equals(bodyOf(p))) throw new Error(`${p}: served body differs from the origin's`);
      seen.push(String(reply.headers['x-cache']));
    }
    // Some entries survived the kill, so the check above did compare stored bodies.
    expect(seen).toContain('HIT');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    run = undefined;

    // 3. Offline check of the directory: only complete entries whose bytes are the origin's.
    const store = await DiskStore.open({ dir: dir.dir, maxSize: 1024 ** 3 });
    try {
      await store.ready();
      let entries = 0;
      for await (const entry of store.entries()) {
        entries += 1;
        const expected = bodyOf(new URL(entry.key).pathname);
        expect(entry.size).toBe(expected.length);
        expect(entry.checksum).toBe(createHash('sha1').update(expected).digest('hex'));
        const chunks: Buffer[] = [];
        for await (const chunk of await store.openBody(entry)) chunks.push(chunk as Buffer);
        expect(Buffer.concat(chunks).equals(expected)).toBe(true);
      }
      expect(entries).toBeGreaterThan(0);
      const v2 = path.join(dir.dir, 'v2');
      expect(await readdir(path.join(v2, 'tmp'))).toEqual([]);
      const bodyFiles = (await readdir(path.join(v2, 'body'), { recursive: true, withFileTypes: true })).filter((d) =>
        d.isFile(),
      );
      expect(bodyFiles).toHaveLength(entries);
    } finally {
      await store.close();
    }
  }, 90_000);
});
