import { describe, expect, test } from '@jest/globals';
import v8 from 'node:v8';
import type { EntryMeta } from '@simple-cache/common';
import { fetchedHead, headRulesFrom, storedHead, type Head, type StoredAs } from '../../src/proxy/respond/heads.js';
import { WHOLE } from '../../src/proxy/respond/range-serving.js';

/**
 * respond/heads.ts: the heads one function builds share one hidden class once V8 has optimised
 * it. Built as `{ ...part, ...says }`, each head optimised code made had a hidden class of its
 * own (V8 in Node 20), so every function that read one deoptimised on the next: the fast hit's
 * tryServe was recompiled each time Age moved, about once a second under load
 * (docs/benchmarks.md, "A new connection per request"). V8's own test intrinsics, enabled for
 * this file only: `%HaveSameMap` is the only way to ask for an object's hidden class.
 */
v8.setFlagsFromString('--allow-natives-syntax');
const natives = {
  sameMap: new Function('a', 'b', 'return %HaveSameMap(a, b);') as (a: object, b: object) => boolean,
  prepare: new Function('f', '%PrepareFunctionForOptimization(f);') as (f: unknown) => void,
  optimiseNext: new Function('f', '%OptimizeFunctionOnNextCall(f);') as (f: unknown) => void,
  isOptimised: new Function('f', 'return (%GetOptimizationStatus(f) & 16) !== 0;') as (f: unknown) => boolean,
};

const RULES = headRulesFrom(
  { name: 'edge', tagHeaders: [] },
  { targetedField: 'cdn-cache-control', stripTargetedField: false },
);

const ENTRY = {
  key: 'http://origin.test/x',
  variant: '',
  vary: [],
  varyValues: {},
  status: 200,
  headers: { 'content-type': 'text/plain', 'cache-control': 'max-age=60', etag: '"a"' },
  requestTime: 0,
  responseTime: 0,
  size: 5,
  bodyId: 'b1',
  checksum: '',
} as unknown as EntryMeta;

function hitAt(age: number): StoredAs {
  return { xCache: 'HIT', status: { hit: true, ttl: 60 - age }, age, withoutValidation: true };
}

/** `make(i)` for i = 0, 1, … with `fn` optimised after the first calls, as a busy server would run it. */
function headsFromOptimised(fn: unknown, make: (i: number) => Head): Head[] {
  natives.prepare(fn);
  const heads = [make(0), make(1)];
  natives.optimiseNext(fn);
  for (let i = 2; i < 6; i++) heads.push(make(i));
  expect(natives.isOptimised(fn)).toBe(true);
  return heads;
}

describe('heads keep one hidden class in optimised code (no deoptimisation of their readers)', () => {
  test('storedHead: a fresh hit, as Age moves', () => {
    const heads = headsFromOptimised(storedHead, (i) => storedHead(ENTRY, hitAt(i), WHOLE, RULES));
    expect(heads.map((head) => head.headers.age)).toEqual(['0', '1', '2', '3', '4', '5']);
    for (const head of heads.slice(3)) expect(natives.sameMap(head, heads[2] as Head)).toBe(true);
  });

  test('storedHead: a 304 to the client', () => {
    const heads = headsFromOptimised(storedHead, (i) => storedHead(ENTRY, hitAt(i), { kind: 'not-modified' }, RULES));
    expect(heads.map((head) => head.status)).toEqual([304, 304, 304, 304, 304, 304]);
    for (const head of heads.slice(3)) expect(natives.sameMap(head, heads[2] as Head)).toBe(true);
  });

  test('fetchedHead: a miss', () => {
    const response = { status: 200, headers: { 'content-type': 'text/plain', 'content-length': '5' } };
    const as = { xCache: 'MISS' as const, status: { fwd: 'uri-miss' as const, stored: true }, collapsed: false };
    const heads = headsFromOptimised(fetchedHead, () => fetchedHead(response, as, WHOLE, RULES));
    expect(heads.map((head) => head.headers['x-cache'])).toEqual(Array(6).fill('MISS'));
    for (const head of heads.slice(3)) expect(natives.sameMap(head, heads[2] as Head)).toBe(true);
  });
});
