import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { BodyFileWriter } from '../../src/store/body-file-writer.js';
import { nodeFs, type StoreFs } from '../../src/store/store-fs.js';
import { tempDir } from '../helpers/cache.js';

/**
 * A StoreFs whose file handles write at most `limit` bytes per call (a short write, which the
 * kernel may do), or fail every write with `failWith`.
 */
function shortWritingFs(options: { limit?: number; failWith?: string }): { fs: StoreFs; calls: string[] } {
  const calls: string[] = [];
  const fs: StoreFs = {
    ...nodeFs,
    open: (async (...args: Parameters<StoreFs['open']>) => {
      const handle = await nodeFs.open(...args);
      return new Proxy(handle, {
        get(target, prop) {
          const value: unknown = Reflect.get(target, prop, target);
          if (prop === 'writev') {
            return async (buffers: Buffer[], position: number) => {
              calls.push(`writev ${buffers.length}`);
              if (options.failWith) throw Object.assign(new Error(options.failWith), { code: options.failWith });
              const total = buffers.reduce((sum, b) => sum + b.length, 0);
              const take = Math.min(total, options.limit ?? total);
              await target.write(Buffer.concat(buffers).subarray(0, take), 0, take, position);
              return { bytesWritten: take, buffers };
            };
          }
          if (prop === 'write') {
            return async (buffer: Buffer, offset: number, length: number, position: number) => {
              calls.push('write');
              if (options.failWith) throw Object.assign(new Error(options.failWith), { code: options.failWith });
              const take = Math.min(length, options.limit ?? length);
              return target.write(buffer, offset, take, position);
            };
          }
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }) as FileHandle;
    }) as StoreFs['open'],
  };
  return { fs, calls };
}

/** 64 distinct chunks of 64 KiB, written without waiting: all but the first queue up and go in writev calls. */
function chunks(): Buffer[] {
  return Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
}

describe('BodyFileWriter', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  beforeAll(async () => (dir = await tempDir()));
  afterAll(async () => dir.cleanup());
  const nextPath = () => path.join(dir.dir, `body-${++n}`);

  test.each([
    ['whole writes', undefined],
    ['short writes', 100_003],
  ])('chunks that queue up are batched and land in order (%s)', async (_name, limit) => {
    const { fs, calls } = shortWritingFs({ limit });
    const file = nextPath();
    const writer = new BodyFileWriter(fs, file, Number.MAX_SAFE_INTEGER);
    const body = chunks();
    for (const chunk of body) writer.write(chunk);
    writer.end();
    await finished(writer);
    const expected = Buffer.concat(body);
    expect((await readFile(file)).equals(expected)).toBe(true);
    expect(writer.bytes).toBe(expected.length);
    expect(writer.digest()).toBe(createHash('sha1').update(expected).digest('hex'));
    // Fewer system calls than chunks: what queued behind a write went out together.
    expect(calls.some((call) => call.startsWith('writev') && call !== 'writev 1')).toBe(true);
    if (limit === undefined) expect(calls.length).toBeLessThan(body.length);
  });

  test('a failing batched write fails the stream', async () => {
    const { fs } = shortWritingFs({ failWith: 'ENOSPC' });
    const writer = new BodyFileWriter(fs, nextPath(), Number.MAX_SAFE_INTEGER);
    writer.on('error', () => {});
    for (const chunk of chunks()) writer.write(chunk);
    writer.end();
    await expect(finished(writer)).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  test('a body over the limit closes the stream without an error', async () => {
    const { fs } = shortWritingFs({});
    const writer = new BodyFileWriter(fs, nextPath(), 1024 * 1024);
    const errors: unknown[] = [];
    writer.on('error', (error) => errors.push(error));
    for (const chunk of chunks()) writer.write(chunk);
    await new Promise((resolve) => writer.once('close', resolve));
    expect(writer.overLimit).toBe(true);
    expect(errors).toEqual([]);
  });
});
