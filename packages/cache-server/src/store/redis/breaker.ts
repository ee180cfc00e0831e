/**
 * A circuit breaker for one Redis server (one cluster master, or the single server): after a
 * few failures in a short window it opens, and while open every call fails at once instead of
 * waiting for a server that does not answer. Pure state: the clock is passed in, and probing is
 * the caller's (redis-gate.ts), which closes the breaker when a probe succeeds.
 *
 *   closed ──failureThreshold failures within windowMs, or trip()──▶ open ──a probe answers──▶ closed
 */
export interface BreakerOptions {
  /** Failures within `windowMs` that open the breaker. */
  failureThreshold: number;
  windowMs: number;
}

export interface BreakerTrip {
  /** Wall-clock ms when it opened. */
  since: number;
  /** What opened it: an error kind (timeout, connection, cluster-down, loading, …). */
  kind: string;
  message: string;
}

export const DEFAULT_BREAKER_OPTIONS: BreakerOptions = { failureThreshold: 3, windowMs: 2_000 };

export class Breaker {
  private failures: number[] = [];
  private trip: BreakerTrip | undefined;

  constructor(
    /** The server it guards, e.g. `127.0.0.1:6379`. */
    readonly node: string,
    private readonly options: BreakerOptions = DEFAULT_BREAKER_OPTIONS,
  ) {}

  get isOpen(): boolean {
    return this.trip !== undefined;
  }

  /** Why and since when it is open; undefined while closed. */
  get opened(): Readonly<BreakerTrip> | undefined {
    return this.trip;
  }

  /** A call answered: failures so far no longer add up to an outage. */
  recordSuccess(): void {
    if (this.failures.length > 0) this.failures = [];
  }

  /** A call failed at `now`; returns true when this failure opened the breaker. */
  recordFailure(now: number, kind: string, message: string): boolean {
    if (this.trip !== undefined) return false;
    const since = now - this.options.windowMs;
    this.failures = this.failures.filter((at) => at > since);
    this.failures.push(now);
    if (this.failures.length < this.options.failureThreshold) return false;
    return this.open(now, kind, message);
  }

  /** Opens at once (the connection closed: no need to wait for calls to fail); true if it was closed. */
  open(now: number, kind: string, message: string): boolean {
    if (this.trip !== undefined) return false;
    this.trip = { since: now, kind, message };
    this.failures = [];
    return true;
  }

  /** A probe answered; returns what had opened it (undefined if it was closed). */
  close(): BreakerTrip | undefined {
    const trip = this.trip;
    this.trip = undefined;
    this.failures = [];
    return trip;
  }
}
