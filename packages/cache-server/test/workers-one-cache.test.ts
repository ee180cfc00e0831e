import { describe, expect, test } from '@jest/globals';
import type http from 'node:http';
import os from 'node:os';
import { blockSizeOf } from '../src/store/disk-bounds.js';
import { fixed } from './helpers/test-origin.js';
import { waitFor } from './helpers/http.js';
import { untilEntries, untilStored, useTwoWorkers } from './helpers/workers.js';

const CACHEABLE = { 'cache-control': 'public, max-age=600', 'content-type': 'text/plain' };

describe('--workers 2: one cache, whichever worker answers', () => {
  const workers = useTwoWorkers({
    '*': (req, res) => fixed(`body of ${req.url}`, CACHEABLE)(req, res, Buffer.alloc(0)),
  });

  test('the two connections reach two different workers', () => {
    expect(workers.one.slot).not.toBe(workers.two.slot);
    expect(workers.one.pid).not.toBe(workers.two.pid);
  });

  test('a response stored by one worker is a HIT in the other, with no second origin fetch', async () => {
    const first = await workers.one.get('/shared');
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await untilStored(workers.two, '/shared');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.body.toString()).toBe('body of /shared');
    const again = await workers.two.get('/shared');
    expect(again.headers['x-cache']).toBe('HIT');
    expect(workers.origin.count('/shared')).toBe(1);
  });

  test('both workers answer a stored response with the same head, but for Date and Age', async () => {
    await workers.two.get('/same');
    await untilStored(workers.one, '/same');
    const a = await workers.one.get('/same');
    const b = await workers.two.get('/same');
    const comparable = (headers: http.IncomingHttpHeaders) => {
      const { date: _date, age: _age, 'cache-status': status, ...rest } = headers;
      return { ...rest, 'cache-status': String(status).replace(/ttl=\d+/, 'ttl=…') };
    };
    expect(comparable(a.headers)).toEqual(comparable(b.headers));
    expect(a.body.equals(b.body)).toBe(true);
  });
});

describe('--workers 2 with --max-size: one eviction authority for both', () => {
  // --max-size bounds what entries take on disk, in blocks: a 1,000-byte body and its small meta
  // file take a block each (the blocks of at least 1 KiB a file system has). Room for two, not three.
  let entryCost = 0;
  const workers = useTwoWorkers({ '*': fixed(Buffer.alloc(1000, 'x'), CACHEABLE) }, async () => {
    const block = await blockSizeOf(os.tmpdir());
    entryCost = 2 * Math.max(block, 1024);
    return ['--max-size', String(Math.floor(2.5 * entryCost))];
  });

  test('entries stored through either worker share the one bound; the least recently used goes', async () => {
    // Waiting on the stats, not on requests for the entries: those would use them (recency).
    await workers.one.get('/1');
    await untilEntries(workers.two, 1);
    await workers.two.get('/2');
    await untilEntries(workers.one, 2);
    // /1 is used (through the other worker) after /2 was stored: /2 is now the least recently used.
    expect((await workers.two.get('/1')).headers['x-cache']).toBe('HIT');
    await workers.one.get('/_cache/stats'); // the primary gathers recency before it answers
    await workers.one.get('/3');
    await waitFor(async () => {
      const stats = JSON.parse((await workers.two.get('/_cache/stats')).body.toString()) as {
        store: { evictions: number; entries: number };
      };
      return stats.store.evictions === 1 && stats.store.entries === 2;
    }, 'the eviction, and the third entry');
    const stats = JSON.parse((await workers.two.get('/_cache/stats')).body.toString()) as {
      store: { entries: number; size: number; evictions: number };
    };
    expect(stats.store).toMatchObject({ entries: 2, size: 2 * entryCost, evictions: 1 });
    expect((await workers.one.get('/2', { 'cache-control': 'only-if-cached' })).status).toBe(504);
    expect((await workers.one.get('/1')).headers['x-cache']).toBe('HIT');
    expect((await workers.two.get('/3')).headers['x-cache']).toBe('HIT');
    expect(workers.origin.count()).toBe(3);
  });
});
