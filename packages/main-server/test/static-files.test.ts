import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { HEADER } from '@simple-cache/common';
import { BIG_FILE_SIZE, DEMO_ROOT, generateBigFileBytes, startOrigin, type RunningOrigin } from '../src/index.js';
import { request, stableHeaders } from './helpers.js';

let origin: RunningOrigin;

beforeAll(async () => {
  origin = await startOrigin();
});

afterAll(async () => {
  await origin.close();
});

describe('the demo site', () => {
  test('`/` serves index.html', async () => {
    const response = await fetch(`${origin.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toBe(await readFile(path.join(DEMO_ROOT, 'index.html'), 'utf8'));
  });

  test('index.html loads the stylesheet, the logo and links the other pages and big.bin', async () => {
    const html = await (await fetch(`${origin.url}/`)).text();
    expect(html).toMatch(/<link rel="stylesheet" href="\/style.css">/);
    expect(html).toMatch(/<img src="\/logo.svg"/);
    for (const href of ['/about.html', '/rfc.html', '/files/', '/big.bin']) expect(html).toContain(`href="${href}"`);
  });

  test.each([
    ['/style.css', 'text/css; charset=utf-8'],
    ['/logo.svg', 'image/svg+xml'],
    ['/about.html', 'text/html; charset=utf-8'],
    ['/rfc.html', 'text/html; charset=utf-8'],
    ['/files/hello.txt', 'text/plain; charset=utf-8'],
  ])('%s is served as %s', async (pathname, type) => {
    const response = await fetch(`${origin.url}${pathname}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(type);
  });

  test('big.bin holds the generator bytes', async () => {
    const response = await fetch(`${origin.url}/big.bin`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(BIG_FILE_SIZE));
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(generateBigFileBytes())).toBe(true);
  });
});

describe('HTTP semantics from @fastify/static', () => {
  test('HEAD sends the same headers as GET and no body', async () => {
    const get = await fetch(`${origin.url}/style.css`);
    await get.arrayBuffer();
    const head = await fetch(`${origin.url}/style.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    // The request counter is the one header that must differ.
    const { [HEADER.originRequestCount]: getCount, ...getHeaders } = stableHeaders(get);
    const { [HEADER.originRequestCount]: headCount, ...headHeaders } = stableHeaders(head);
    expect(headHeaders).toEqual(getHeaders);
    expect(Number(headCount)).toBe(Number(getCount) + 1);
  });

  test('Range answers 206 with exactly the requested bytes', async () => {
    const response = await fetch(`${origin.url}/big.bin`, { headers: { range: 'bytes=1000-1999' } });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-range')).toBe(`bytes 1000-1999/${BIG_FILE_SIZE}`);
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(generateBigFileBytes().subarray(1000, 2000))).toBe(true);
  });

  test('a suffix range returns the last bytes', async () => {
    const response = await fetch(`${origin.url}/big.bin`, { headers: { range: 'bytes=-16' } });
    expect(response.status).toBe(206);
    const body = Buffer.from(await response.arrayBuffer());
    expect(body.equals(generateBigFileBytes().subarray(BIG_FILE_SIZE - 16))).toBe(true);
  });

  test('an unsatisfiable range answers 416', async () => {
    const response = await fetch(`${origin.url}/big.bin`, { headers: { range: `bytes=${BIG_FILE_SIZE}-` } });
    expect(response.status).toBe(416);
    await response.arrayBuffer();
  });

  test('ETag + If-None-Match answers 304 without a body, keeping Cache-Control', async () => {
    const first = await request(`${origin.url}/about.html`);
    const etag = first.headers.etag as string;
    expect(etag).toBeTruthy();
    const second = await request(`${origin.url}/about.html`, { headers: { 'if-none-match': etag } });
    expect(second.status).toBe(304);
    expect(second.body.length).toBe(0);
    expect(second.headers.etag).toBe(etag);
    // RFC 9110 §15.4.5: a 304 carries the Cache-Control the 200 would have.
    expect(second.headers['cache-control']).toBe('public, max-age=60');
  });

  test('a different ETag in If-None-Match gets the full response', async () => {
    const response = await request(`${origin.url}/about.html`, { headers: { 'if-none-match': '"nope"' } });
    expect(response.status).toBe(200);
    expect(response.body.length).toBeGreaterThan(0);
  });

  test('Last-Modified is an HTTP date, and If-Modified-Since with it answers 304', async () => {
    const first = await request(`${origin.url}/rfc.html`);
    const lastModified = first.headers['last-modified'] as string;
    expect(lastModified).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    const second = await request(`${origin.url}/rfc.html`, { headers: { 'if-modified-since': lastModified } });
    expect(second.status).toBe(304);
  });

  test('every file carries the default Cache-Control', async () => {
    for (const pathname of ['/', '/style.css', '/logo.svg', '/big.bin']) {
      const response = await fetch(`${origin.url}${pathname}`, { method: 'HEAD' });
      expect(response.headers.get('cache-control')).toBe('public, max-age=60');
    }
  });
});
