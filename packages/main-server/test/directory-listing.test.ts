import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startOrigin, type RunningOrigin } from '../src/index.js';
import { createTempRoot } from './helpers.js';

let origin: RunningOrigin;
let temp: Awaited<ReturnType<typeof createTempRoot>>;

beforeAll(async () => {
  temp = await createTempRoot({
    'top.txt': 'top',
    'docs/a.txt': 'a',
    'docs/b <&> c#1.txt': 'odd name',
    'docs/nested/deep.txt': 'deep',
    'site/index.html': '<h1>site index</h1>',
  });
  origin = await startOrigin({ root: temp.root });
});

afterAll(async () => {
  await origin.close();
  await temp.remove();
});

async function getHtml(pathname: string): Promise<{ status: number; type: string | null; html: string }> {
  const response = await fetch(`${origin.url}${pathname}`);
  return { status: response.status, type: response.headers.get('content-type'), html: await response.text() };
}

describe('a directory without index.html', () => {
  test('is listed as HTML with a link per entry', async () => {
    const { status, type, html } = await getHtml('/docs/');
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/html/);
    expect(html).toContain('<title>Index of /docs/</title>');
    expect(html).toContain('<a href="/docs/a.txt">a.txt</a>');
    expect(html).toContain('<a href="/docs/nested/">nested/</a>');
    expect(html).toContain('<a href="../">..</a>');
  });

  test('names are escaped in the text and encoded in the href', async () => {
    const { html } = await getHtml('/docs/');
    expect(html).toContain('<a href="/docs/b%20%3C&amp;%3E%20c%231.txt">b &lt;&amp;&gt; c#1.txt</a>');
    const response = await fetch(`${origin.url}/docs/b%20%3C&%3E%20c%231.txt`);
    expect(await response.text()).toBe('odd name');
  });

  test('the root itself is listed when it has no index.html, without a parent link', async () => {
    const { status, html } = await getHtml('/');
    expect(status).toBe(200);
    expect(html).toContain('<a href="/top.txt">top.txt</a>');
    expect(html).toContain('<a href="/docs/">docs/</a>');
    expect(html).not.toContain('href="../"');
  });

  test('the path without a trailing slash redirects to the one with it, keeping the query', async () => {
    const response = await fetch(`${origin.url}/docs/nested?x=1`, { redirect: 'manual' });
    expect(response.status).toBe(301);
    expect(response.headers.get('location')).toBe('/docs/nested/?x=1');
  });
});

describe('a directory with index.html', () => {
  test('serves the index instead of a listing', async () => {
    const { status, html } = await getHtml('/site/');
    expect(status).toBe(200);
    expect(html).toBe('<h1>site index</h1>');
  });
});

describe('the demo site', () => {
  test('/files/ lists its text files', async () => {
    const demo = await startOrigin();
    try {
      const response = await fetch(`${demo.url}/files/`);
      const html = await response.text();
      expect(response.status).toBe(200);
      expect(html).toContain('<a href="/files/hello.txt">hello.txt</a>');
      expect(html).toContain('<a href="/files/more/">more/</a>');
    } finally {
      await demo.close();
    }
  });
});
