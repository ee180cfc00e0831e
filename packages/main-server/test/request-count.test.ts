import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { HEADER } from '@simple-cache/common';
import { STATS_PATH, startOrigin, type RequestStats, type RunningOrigin } from '../src/index.js';
import { createTempRoot, request } from './helpers.js';

let origin: RunningOrigin;
let temp: Awaited<ReturnType<typeof createTempRoot>>;

beforeEach(async () => {
  temp = await createTempRoot({ 'a.txt': 'a', 'b.txt': 'b' });
  origin = await startOrigin({ root: temp.root });
});

afterEach(async () => {
  await origin.close();
  await temp.remove();
});

async function countOf(pathname: string, init?: RequestInit): Promise<string | null> {
  const response = await fetch(`${origin.url}${pathname}`, init);
  await response.arrayBuffer();
  return response.headers.get(HEADER.originRequestCount);
}

async function readStats(): Promise<{ stats: RequestStats; cacheControl: string | null }> {
  const response = await fetch(`${origin.url}${STATS_PATH}`);
  return { stats: (await response.json()) as RequestStats, cacheControl: response.headers.get('cache-control') };
}

test('every response carries the running count: files, HEAD, 304, 404', async () => {
  expect(await countOf('/a.txt')).toBe('1');
  expect(await countOf('/a.txt', { method: 'HEAD' })).toBe('2');
  const etag = (await request(`${origin.url}/b.txt`)).headers.etag as string;
  const notModified = await request(`${origin.url}/b.txt`, { headers: { 'if-none-match': etag } });
  expect(notModified.status).toBe(304);
  expect(notModified.headers[HEADER.originRequestCount]).toBe('4');
  expect(await countOf('/missing')).toBe('5');
});

test('/_origin/stats counts by path, ignores the query, and not itself', async () => {
  await countOf('/a.txt');
  await countOf('/a.txt?v=2');
  await countOf('/b.txt');
  await countOf('/missing');
  const first = await readStats();
  expect(first.stats).toEqual({ total: 4, byPath: { '/a.txt': 2, '/b.txt': 1, '/missing': 1 } });
  const second = await readStats();
  expect(second.stats.total).toBe(4);
});

test('/_origin/stats is never stored by a cache', async () => {
  const { cacheControl } = await readStats();
  expect(cacheControl).toBe('no-store');
});

test('each origin counts on its own', async () => {
  const other = await startOrigin({ root: temp.root });
  try {
    await countOf('/a.txt');
    const response = await fetch(`${other.url}${STATS_PATH}`);
    expect(await response.json()).toEqual({ total: 0, byPath: {} });
  } finally {
    await other.close();
  }
});
