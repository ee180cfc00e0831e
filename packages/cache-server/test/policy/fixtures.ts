import { DEFAULT_POLICY_OPTIONS } from '../../src/config/policy-options.js';
import type { PolicyOptions, RequestView } from '../../src/policy/types.js';
import type { EntryMeta, HeaderMap } from '@simple-cache/common';

/** The wall clock every fixture is built around (ms); tests move `now` relative to it. */
export const T0 = Date.UTC(2024, 0, 15, 12, 0, 0);

/** Seconds after T0, in ms. */
export function at(seconds: number): number {
  return T0 + seconds * 1000;
}

/** IMF-fixdate for T0 + `seconds` (negative = in the past). */
export function httpDate(seconds: number): string {
  return new Date(at(seconds)).toUTCString();
}

export function options(overrides: Partial<PolicyOptions> = {}): PolicyOptions {
  return { ...DEFAULT_POLICY_OPTIONS, ...overrides };
}

export function request(headers: HeaderMap = {}, method = 'GET', url?: string): RequestView {
  return url === undefined ? { method, headers } : { method, headers, url };
}

/**
 * A stored entry received at T0 (request sent at T0 too, so no response delay) with a Date of
 * T0; override any field, and headers are merged (set one to undefined to drop it).
 */
export function entry(headers: HeaderMap = {}, overrides: Partial<EntryMeta> = {}): EntryMeta {
  return {
    key: 'http://origin.test/resource',
    variant: '',
    vary: [],
    varyValues: {},
    status: 200,
    headers: { date: httpDate(0), ...headers },
    requestTime: T0,
    responseTime: T0,
    size: 0,
    bodyId: 'body-1',
    ...overrides,
  };
}
