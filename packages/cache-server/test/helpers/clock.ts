import { jest } from '@jest/globals';

/**
 * Fakes only `Date` (ages and freshness are computed from it) and leaves every timer real, so
 * sockets and streams behave normally while the test moves the wall clock.
 */
export function useFakeClock(start = Date.UTC(2026, 0, 1, 12, 0, 0)): {
  advance(seconds: number): void;
  now(): number;
  restore(): void;
} {
  jest.useFakeTimers({
    now: start,
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
  return {
    advance: (seconds) => jest.setSystemTime(Date.now() + seconds * 1000),
    now: () => Date.now(),
    restore: () => jest.useRealTimers(),
  };
}

/** An HTTP-date for the faked clock (origins in tests send it, as Node's own Date is not faked). */
export function httpDate(ms = Date.now()): string {
  return new Date(ms).toUTCString();
}
