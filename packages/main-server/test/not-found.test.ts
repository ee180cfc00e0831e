import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startOrigin, type RunningOrigin } from '../src/index.js';
import { createTempRoot } from './helpers.js';

let origin: RunningOrigin;
let temp: Awaited<ReturnType<typeof createTempRoot>>;

beforeAll(async () => {
  temp = await createTempRoot({ 'here.txt': 'here' });
  origin = await startOrigin({ root: temp.root });
});

afterAll(async () => {
  await origin.close();
  await temp.remove();
});

test.each(['/missing.html', '/no/such/dir/', '/here.txt/'])(
  '%s is a 404 HTML page naming the path',
  async (pathname) => {
    const response = await fetch(`${origin.url}${pathname}`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain(`<code>${pathname}</code>`);
  },
);

test('the path is escaped in the page', async () => {
  const response = await fetch(`${origin.url}/%3Cscript%3E?q=<b>`);
  const html = await response.text();
  expect(response.status).toBe(404);
  expect(html).toContain('<code>/%3Cscript%3E</code>');
  expect(html).not.toContain('<b>');
});

test('HEAD of a missing file is a 404 without a body', async () => {
  const response = await fetch(`${origin.url}/missing.html`, { method: 'HEAD' });
  expect(response.status).toBe(404);
  expect(await response.text()).toBe('');
});
