import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import Fastify, { type FastifyInstance } from 'fastify';
import { forwardAdminRequests, WORKER_HEADER } from '../../src/cluster/admin-forward.js';
import { OP, type AdminAnswer, type AdminRequest } from '../../src/cluster/protocol.js';
import { busPair } from '../helpers/bus-pair.js';
import { request } from '../helpers/http.js';
import { rawExchange } from '../helpers/raw.js';

/**
 * A worker's side of the admin endpoints (cluster/admin-forward.ts) on a real port, with the
 * primary's side of the bus answered by the test: what the client sees when the primary answers,
 * when it fails, and when the request cannot be handed over at all.
 */
describe('a worker hands admin requests to the primary, and answers from the catalogue when it cannot', () => {
  const pair = busPair();
  let app: FastifyInstance;
  let url: string;
  let failing = false;
  const handed: AdminRequest[] = [];

  beforeAll(async () => {
    pair.primary.handle<AdminRequest, AdminAnswer>(OP.admin, (forwarded) => {
      handed.push(forwarded);
      if (failing) throw new Error('the primary failed');
      return {
        status: 200,
        headers: { 'content-type': 'text/plain' },
        body: Buffer.from('from the primary').toString('base64'),
      };
    });
    app = Fastify();
    forwardAdminRequests(app, pair.worker, '/_cache', 2);
    app.all('/*', async () => 'proxied');
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    pair.close();
  });

  test('an answer of the primary is written back as it came, naming the worker that handed it over', async () => {
    const reply = await request(url, '/_cache/stats');
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('from the primary');
    expect(handed.at(-1)?.headers[WORKER_HEADER]).toBe('2');
    expect((await request(url, '/other')).body.toString()).toBe('proxied');
  });

  test('a primary that fails to answer: 502 CACHE_ERR_ADMIN_UNAVAILABLE, as JSON like every admin error', async () => {
    failing = true;
    try {
      const reply = await request(url, '/_cache/stats');
      expect(reply.status).toBe(502);
      expect(reply.headers['x-cache-error']).toBe('CACHE_ERR_ADMIN_UNAVAILABLE');
      expect(reply.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(reply.body.toString())).toMatchObject({ error: 'CACHE_ERR_ADMIN_UNAVAILABLE' });
    } finally {
      failing = false;
    }
  });

  test('a body announced over 1 MiB: 413 CACHE_ERR_ADMIN_BODY_TOO_LARGE at once, never handed over, connection closed', async () => {
    const before = handed.length;
    const head =
      'POST /_cache/purge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n';
    const reply = await rawExchange(url, head);
    expect(reply.statuses).toEqual([413]);
    expect(reply.text).toMatch(/\r\nx-cache-error: CACHE_ERR_ADMIN_BODY_TOO_LARGE\r\n/i);
    expect(reply.closedByServer).toBe(true);
    expect(handed.length).toBe(before);
  });
});
