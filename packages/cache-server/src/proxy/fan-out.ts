import type { Readable, Writable } from 'node:stream';

interface Target {
  stream: Writable;
  /** End the target when the source ends (clients); the store writer is ended by its commit. */
  end: boolean;
}

/**
 * One origin body, many consumers: the store writer and every client collapsed onto the fetch.
 * Flow is paced by the slowest consumer (back-pressure), so memory stays flat however large the
 * body. The first `replayLimit` bytes are kept so that a client that joins after bytes have
 * flowed can still be served from the start; past that a late client waits for the store.
 */
export class FanOut {
  readonly done: Promise<void>;
  private readonly targets = new Set<Target>();
  private readonly waiting = new Set<Target>();
  private replay: Buffer[] | undefined = [];
  private replayBytes = 0;
  private state: 'flowing' | 'ended' | 'failed' = 'flowing';
  private failure: Error | undefined;

  constructor(
    private readonly source: Readable,
    private readonly replayLimit: number,
  ) {
    source.pause();
    this.done = new Promise<void>((resolve, reject) => {
      source.on('data', (chunk: Buffer) => this.onData(chunk));
      source.once('end', () => {
        this.state = 'ended';
        for (const target of this.targets) if (target.end) target.stream.end();
        resolve();
      });
      source.once('error', (error) => {
        this.state = 'failed';
        this.failure = error;
        for (const target of this.targets) target.stream.destroy(error);
        this.targets.clear();
        reject(error);
      });
    });
    // Callers handle failure through their own consumers; an unobserved rejection must not crash.
    this.done.catch(() => {});
  }

  /** Starts the flow; consumers attached before this see every byte. */
  start(): void {
    if (this.targets.size === 0) {
      this.source.destroy();
      return;
    }
    this.source.resume();
  }

  /**
   * Attaches a consumer. Returns false when it cannot be served from the first byte any more
   * (bytes past the replay limit have flowed), or the source has failed.
   */
  add(stream: Writable, options: { end: boolean }): boolean {
    if (this.state === 'failed' || this.replay === undefined) return false;
    for (const chunk of this.replay) stream.write(chunk);
    const target: Target = { stream, end: options.end };
    if (this.state === 'ended') {
      if (options.end) stream.end();
      return true;
    }
    this.targets.add(target);
    const detach = () => this.remove(target);
    stream.once('close', detach);
    stream.once('error', detach);
    return true;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  private remove(target: Target): void {
    this.targets.delete(target);
    if (this.waiting.delete(target)) this.resumeIfDrained();
  }

  private onData(chunk: Buffer): void {
    if (this.replay) {
      this.replayBytes += chunk.length;
      if (this.replayBytes > this.replayLimit) this.replay = undefined;
      else this.replay.push(chunk);
    }
    for (const target of this.targets) {
      if (target.stream.destroyed) continue;
      if (!target.stream.write(chunk) && !this.waiting.has(target)) {
        this.waiting.add(target);
        target.stream.once('drain', () => {
          this.waiting.delete(target);
          this.resumeIfDrained();
        });
      }
    }
    if (this.waiting.size > 0) this.source.pause();
  }

  private resumeIfDrained(): void {
    if (this.waiting.size === 0 && this.state === 'flowing') this.source.resume();
  }
}
