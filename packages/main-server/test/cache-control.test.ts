import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { OptionError } from '@simple-cache/common';
import { createConfig, startOrigin, type RunningOrigin } from '../src/index.js';
import { createTempRoot } from './helpers.js';

describe('Cache-Control from the config', () => {
  let origin: RunningOrigin;
  let temp: Awaited<ReturnType<typeof createTempRoot>>;

  beforeAll(async () => {
    temp = await createTempRoot({ 'a.txt': 'a', 'dir/b.txt': 'b' });
    origin = await startOrigin({ root: temp.root, cacheControl: 'no-cache, s-maxage=5' });
  });

  afterAll(async () => {
    await origin.close();
    await temp.remove();
  });

  test.each([
    ['a file', '/a.txt', 200],
    ['a directory listing', '/dir/', 200],
    ['a redirect to a directory', '/dir', 301],
  ])('%s carries the configured value', async (_name, pathname, status) => {
    const response = await fetch(`${origin.url}${pathname}`, { redirect: 'manual' });
    expect(response.status).toBe(status);
    expect(response.headers.get('cache-control')).toBe('no-cache, s-maxage=5');
    await response.arrayBuffer();
  });

  test('a 404 carries none, so a cache does not keep the failure as long as a file', async () => {
    const response = await fetch(`${origin.url}/missing.txt`);
    expect(response.status).toBe(404);
    expect(response.headers.get('cache-control')).toBeNull();
    await response.arrayBuffer();
  });
});

describe('createConfig validates values given in code', () => {
  test.each([
    [{ cacheControl: 'public\r\nx-injected: 1' }, /cacheControl/],
    [{ port: 70000 }, /port/],
    [{ root: '/definitely/not/here' }, /root/],
    [{ logLevel: 'chatty' }, /logLevel/],
  ])('%j is refused', (partial, message) => {
    expect(() => createConfig(partial)).toThrow(OptionError);
    expect(() => createConfig(partial)).toThrow(message);
  });

  test('the result is frozen', () => {
    expect(Object.isFrozen(createConfig({ port: 0 }))).toBe(true);
  });
});
