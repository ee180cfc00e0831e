import { afterAll, describe, expect, test } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from './helpers/cache.js';
import { waitFor } from './helpers/http.js';
import { fixed } from './helpers/test-origin.js';
import { untilStored, useTwoWorkers } from './helpers/workers.js';

const NO_RULES = 'grace: 1m\n';
const BYPASS_API = 'grace: 1m\nrules:\n  - { name: api, match: { path: /api/** }, bypass: true }\n';

/** A reload (SIGHUP to the primary, or the admin endpoint through either worker) reaches every worker. */
describe('--workers 2: a config reload reloads every worker', () => {
  let file = '';
  let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
  const workers = useTwoWorkers({ '*': fixed('api answer', { 'cache-control': 'public, max-age=600' }) }, async () => {
    dir = await tempDir();
    file = path.join(dir.dir, 'cache.yaml');
    await writeFile(file, NO_RULES);
    return ['--config', file];
  });
  afterAll(() => dir?.cleanup());

  test('SIGHUP to the primary: both workers apply the new rules', async () => {
    await workers.one.get('/api/x');
    expect((await untilStored(workers.two, '/api/x')).headers['x-cache']).toBe('HIT');

    await writeFile(file, BYPASS_API);
    workers.cli.spawned.child.kill('SIGHUP');
    // The primary's line and each worker's.
    await waitFor(
      () => workers.cli.spawned.stdout().split('"msg":"config reloaded"').length - 1 === 3,
      'the primary and both workers to reload',
    );
    for (const connection of [workers.one, workers.two]) {
      expect((await connection.get('/api/x')).headers['x-cache']).toBe('BYPASS');
    }
  });

  test('POST /_cache/config/reload through one worker: the other has reloaded before the answer', async () => {
    await writeFile(file, NO_RULES);
    const answer = await workers.two.get('/_cache/config/reload', {}, 'POST');
    expect(JSON.parse(answer.body.toString())).toMatchObject({ reloaded: true, applied: ['rules'] });
    expect((await workers.one.get('/api/x')).headers['x-cache']).toBe('HIT');
    expect((await workers.two.get('/api/x')).headers['x-cache']).toBe('HIT');
  });
});
