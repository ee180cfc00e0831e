import { describe, expect, test } from '@jest/globals';
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import v8 from 'node:v8';
import type { CacheStatusInfo } from '@simple-cache/common';
import { fastCombinedWriter, fastJsonWriter, type FastLineWriter } from '../src/access-fast-line.js';
import type { AccessRecord } from '../src/access-line.js';
import { redactQuery } from '../src/access-line.js';

/**
 * src/access-fast-line.ts: a fast hit's line writer stays optimised while the hits it logs move
 * from one second to the next. The fast path gives each stored response a new `cacheStatus`
 * object when its ttl moves (about once a second), and the writer makes a new fragment for it;
 * built as `{ ...key, head, tail }`, each fragment optimised code made had a hidden class of its
 * own (V8 in Node 20), so the writer, and the fast hit it is inlined into, was deoptimised and
 * recompiled by TurboFan about once a second under load (docs/benchmarks.md, access log). V8's
 * own test intrinsics, enabled for this file only, are the only way to ask whether a function is
 * still optimised.
 */
v8.setFlagsFromString('--allow-natives-syntax');
const natives = {
  prepare: new Function('f', '%PrepareFunctionForOptimization(f);') as (f: unknown) => void,
  optimiseNext: new Function('f', '%OptimizeFunctionOnNextCall(f);') as (f: unknown) => void,
  isOptimised: new Function('f', 'return (%GetOptimizationStatus(f) & 16) !== 0;') as (f: unknown) => boolean,
};

function requestOf(): IncomingMessage {
  const req = new IncomingMessage({ remoteAddress: '127.0.0.1' } as unknown as Socket);
  req.rawHeaders = ['Host', 'cache.example', 'User-Agent', 'wrk'];
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  return req;
}

/** A fast hit's record in the `second`-th second of an entry's life: its ttl, and so its cacheStatus object, moved. */
function hitIn(second: number, startedAt: number): AccessRecord {
  const cacheStatus: CacheStatusInfo = { hit: true, ttl: 86_400 - second };
  return {
    route: 'fast-hit',
    method: 'GET',
    target: '/hit-1k.bin',
    status: 200,
    bytes: 1024,
    xCache: 'HIT',
    cacheStatus,
    rule: '',
    errorCode: '',
    startedAt,
    durationMs: 0.012,
    originMs: undefined,
    aborted: false,
  };
}

describe.each<[string, (pathOf: (target: string) => string) => FastLineWriter, string]>([
  ['json', fastJsonWriter, '"time":1796591767205,'],
  ['combined', fastCombinedWriter, '[06/Dec/2026:21:16:07 +0000]'],
])('%s: the fast line writer is not deoptimised as seconds pass', (_name, makeWriter, lastTime) => {
  test('optimised, then fed hits from the following seconds (new cacheStatus objects, new milliseconds)', () => {
    const writer = makeWriter(redactQuery);
    const into = Buffer.alloc(64 * 1024);
    const req = requestOf();
    const start = 1_796_591_760_203;
    natives.prepare(writer);
    let at = 0;
    for (let second = 0; second < 3; second++) at = writer(hitIn(second, start + second * 1000), req, into, 0);
    natives.optimiseNext(writer);
    writer(hitIn(2, start + 2001), req, into, 0);
    expect(natives.isOptimised(writer)).toBe(true);
    for (let second = 3; second < 8; second++) {
      for (let ms = 0; ms < 3; ms++) at = writer(hitIn(second, start + second * 1000 + ms), req, into, 0);
    }
    expect(natives.isOptimised(writer)).toBe(true);
    // The last line carries its own time.
    expect(into.subarray(0, at).toString()).toContain(lastTime);
  });
});
