import { describe, expect, test } from '@jest/globals';
import { BusError } from '../../src/cluster/bus.js';
import { busPair } from '../helpers/bus-pair.js';

describe('the IPC bus between the primary and a worker', () => {
  test('a request gets the other side’s answer; a failure comes back with its code', async () => {
    const { primary, worker, close } = busPair();
    primary.handle<{ n: number }, number>('double', ({ n }) => n * 2);
    primary.handle('fail', () => {
      throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    });
    await expect(worker.request('double', { n: 21 })).resolves.toBe(42);
    await expect(worker.request('fail')).rejects.toMatchObject({ message: 'disk full', code: 'ENOSPC' });
    await expect(worker.request('nobody-answers-this')).rejects.toMatchObject({ code: 'CACHE_ERR_BUS_UNKNOWN_OP' });
    close();
  });

  test('events arrive in the order they were sent, and before an answer sent after them', async () => {
    const { primary, worker, close } = busPair();
    const seen: string[] = [];
    worker.on<string>('change', (what) => seen.push(what));
    primary.handle('commit', () => {
      for (const what of ['a', 'b', 'c']) primary.notify('change', what);
      return 'done';
    });
    expect(await worker.request('commit')).toBe('done');
    expect(seen).toEqual(['a', 'b', 'c']);
    close();
  });

  test('a request without an answer in time fails; a closed channel fails every pending and later request', async () => {
    const { primary, worker, close } = busPair();
    primary.handle('never', () => new Promise(() => undefined));
    await expect(worker.request('never', null, 20)).rejects.toMatchObject({ code: 'CACHE_ERR_BUS_TIMEOUT' });
    const pending = worker.request('never');
    close();
    await expect(pending).rejects.toBeInstanceOf(BusError);
    await expect(worker.request('never')).rejects.toMatchObject({ code: 'CACHE_ERR_BUS_CLOSED' });
  });
});
