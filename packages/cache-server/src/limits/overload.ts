/** How often the event loop's punctuality is sampled. */
const SAMPLE_INTERVAL_MS = 100;

export interface OverloadMonitor {
  /** True while the last sample found the event loop later than the allowed delay. */
  isOverloaded(): boolean;
  /** The last measured delay in milliseconds. */
  readonly delay: number;
  stop(): void;
}

/**
 * Watches how late a repeating timer fires: when the event loop is that late, every request
 * already waits that long before the first line of our code runs, so refusing new work (503)
 * is kinder than queueing it. The same measure as `@fastify/under-pressure`'s
 * maxEventLoopDelay, without the dependency. `maxDelay` 0 turns it off.
 */
export function monitorEventLoop(maxDelay: number, interval = SAMPLE_INTERVAL_MS): OverloadMonitor {
  let delay = 0;
  if (maxDelay <= 0) return { isOverloaded: () => false, delay, stop: () => {} };
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    delay = Math.max(0, now - last - interval);
    last = now;
  }, interval);
  // The monitor must never be what keeps the process alive.
  timer.unref();
  return {
    isOverloaded: () => delay > maxDelay,
    get delay() {
      return delay;
    },
    stop: () => clearInterval(timer),
  };
}
