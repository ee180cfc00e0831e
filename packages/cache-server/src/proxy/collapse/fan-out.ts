import type { Readable, Writable } from 'node:stream';

/** Most bytes a client may have buffered before it is detached from the live flow. */
export const DEFAULT_MAX_LAG = 2 * 1024 * 1024;

/** Why a body is dropped unread: nobody (no client, no store writer) reads it. */
const NOBODY_READS = 'no consumer for the body';

/**
 * Where a client detached from the live flow continues: the stored body from `offset` on, once
 * the entry is committed; undefined (or a rejection) when it was not stored.
 */
export type Continuation = (offset: number) => Promise<Readable | undefined>;

export interface FanOutOptions {
  /** Bytes kept so that a client joining after bytes have flowed is still served from the start. */
  replayLimit: number;
  /** Bytes a client may have buffered (not yet taken by its connection) before it is detached. */
  maxLag?: number;
  /**
   * Nobody but the clients attached from the start reads this body (a response nothing stores,
   * which no later client may share): once they have all left, the body is dropped.
   */
  onlyItsClients?: boolean;
}

interface Target {
  stream: Writable;
  /** End the target when the source ends (clients); the store writer is ended by its commit. */
  end: boolean;
  kind: 'store' | 'client';
  /** Told when a detached client starts (true) and stops (false) waiting for the stored entry. */
  onWait?: (waiting: boolean) => void;
  /** Told when a detached client cannot continue from the store (FINDINGS F13); its stream is destroyed. */
  onLost?: LostHandler;
}

/**
 * A detached client lost its way on: the entry was never committed (abandoned by a purge or an
 * unsafe request, refused, failed), or its body could not be opened or vanished mid-read (a
 * Redis body evicted or deleted). `offset` is where the client was in the body.
 */
export type LostHandler = (error: Error, offset: number) => void;

interface StoreTarget {
  target: Target;
  continueFrom: Continuation;
  /** Bytes past which the store will not keep the body (-1: it will not keep it at all). */
  limit: number;
}

/**
 * One origin body, many consumers: the store writer and every client collapsed onto the fetch.
 *
 * The store writer paces the flow (back-pressure), so memory stays flat however large the body
 * and however slow the origin. Clients do not: a client whose buffered bytes pass `maxLag` is
 * detached and continues from the stored entry at its own offset once committed, so one slow
 * reader never holds up the origin fetch, the store or the other clients. When nothing would be
 * stored (no writer, the writer failed, or the body is larger than the store keeps) a client has
 * nowhere else to go, and then clients pace the flow as well.
 *
 * The first `replayLimit` bytes are kept so that a client that joins after bytes have flowed can
 * still be served from the start; past that a late client waits for the store.
 */
export class FanOut {
  readonly done: Promise<void>;
  private readonly targets = new Set<Target>();
  private readonly waiting = new Set<Target>();
  private readonly maxLag: number;
  private readonly replayLimit: number;
  private readonly onlyItsClients: boolean;
  private readonly rejectDone: (error: Error) => void;
  private store: StoreTarget | undefined;
  private replay: Buffer[] | undefined = [];
  private flowed = 0;
  private detachedCount = 0;
  private state: 'flowing' | 'ended' | 'failed' = 'flowing';
  private failure: Error | undefined;
  private began: Promise<boolean> | undefined;
  private settleBegan: (flowing: boolean) => void = () => {};

  constructor(
    private readonly source: Readable,
    options: FanOutOptions,
  ) {
    this.replayLimit = options.replayLimit;
    this.onlyItsClients = options.onlyItsClients === true;
    this.maxLag = options.maxLag ?? DEFAULT_MAX_LAG;
    source.pause();
    let reject: (error: Error) => void = () => {};
    this.done = new Promise<void>((resolve, rejectDone) => {
      reject = rejectDone;
      source.on('data', (chunk: Buffer) => this.onData(chunk));
      source.once('end', () => {
        this.state = 'ended';
        this.settleBegan(true);
        for (const target of this.targets) if (target.end) target.stream.end();
        resolve();
      });
    });
    this.rejectDone = reject;
    // Callers handle failure through their own consumers; an unobserved rejection must not crash.
    this.done.catch(() => {});
    source.once('error', (error) => this.fail(error));
    // The body may have failed before anyone listened (a broken chunk in the head's packet).
    if (source.errored) this.fail(source.errored);
  }

  /** Starts the flow; consumers attached before this see every byte. */
  start(): void {
    if (this.targets.size === 0) {
      // Nobody wants the body: drop it, and settle `done` so that whoever waits on it moves on.
      this.source.destroy(new Error(NOBODY_READS));
      return;
    }
    this.source.resume();
  }

  /**
   * Attaches the store writer: it paces the flow, and clients that fall behind continue from
   * what it stores (`continueFrom`) as long as no more than `limit` bytes have flowed.
   */
  addStore(stream: Writable, options: { continueFrom: Continuation; limit: number }): void {
    const target: Target = { stream, end: false, kind: 'store' };
    this.store = { target, continueFrom: options.continueFrom, limit: options.limit };
    this.attach(target);
  }

  /**
   * Attaches a consumer that paces the flow as the store writer does and is ended with the source
   * (a compressor feeding a stored copy: proxy/stored-codings.ts). Attach before `start()`.
   */
  addPacer(stream: Writable): void {
    this.attach({ stream, end: true, kind: 'store' });
  }

  /**
   * Resolves true once the body's first byte has flowed (or the body ended, empty), false when
   * it failed before any byte.
   */
  firstBytes(): Promise<boolean> {
    if (this.flowed > 0 || this.state === 'ended') return Promise.resolve(true);
    if (this.state === 'failed') return Promise.resolve(false);
    this.began ??= new Promise<boolean>((resolve) => (this.settleBegan = resolve));
    return this.began;
  }

  /** Bytes of the body that have flowed so far (all of it, once `done` resolved). */
  get flowedBytes(): number {
    return this.flowed;
  }

  /**
   * Attaches a client. Returns false when it cannot be served from the first byte any more
   * (bytes past the replay limit have flowed). When the source has failed, the client's stream
   * is destroyed with that error: a truncated body must never look complete.
   */
  add(stream: Writable, options: { end: boolean; onWait?: (waiting: boolean) => void; onLost?: LostHandler }): boolean {
    if (!this.canJoin()) return false;
    const target: Target = { stream, end: options.end, kind: 'client', onWait: options.onWait, onLost: options.onLost };
    if (this.state !== 'failed' && this.replay !== undefined) {
      for (const chunk of this.replay) stream.write(chunk);
      if (this.state === 'ended') {
        if (options.end) stream.end();
        return true;
      }
    }
    this.attach(target);
    return true;
  }

  /** Would add() take a client now (it can still be served from the first byte, or the fetch failed)? */
  canJoin(): boolean {
    return this.state === 'failed' || this.replay !== undefined;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  /** How many clients were detached to continue from the store (logs and tests). */
  get detached(): number {
    return this.detachedCount;
  }

  private attach(target: Target): void {
    if (this.state === 'failed') {
      target.stream.destroy(this.failure);
      return;
    }
    this.targets.add(target);
    const detach = () => this.remove(target);
    target.stream.once('close', detach);
    target.stream.once('error', detach);
  }

  private fail(error: Error): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.failure = error;
    this.settleBegan(this.flowed > 0);
    for (const target of this.targets) target.stream.destroy(error);
    this.targets.clear();
    this.waiting.clear();
    this.rejectDone(error);
  }

  private remove(target: Target): void {
    this.targets.delete(target);
    if (this.waiting.delete(target)) this.resumeIfDrained();
    // The last client of a body nothing stores has gone: the rest is nobody's, and a body without
    // end (an event stream) was read for good after its client had gone. Dropped, it closes the
    // origin's response (origin-client.ts), as nginx closes its upstream when the client goes
    // (proxy_ignore_client_abort off). A body others may still join flows on for them.
    if (this.onlyItsClients && this.targets.size === 0 && this.state === 'flowing') {
      this.source.destroy(new Error(NOBODY_READS));
    }
  }

  /** A client can be handed to the store only while the store is alive and will keep this body. */
  private canDetach(): boolean {
    const store = this.store;
    if (!store || store.target.stream.destroyed || !this.targets.has(store.target)) return false;
    return this.flowed <= store.limit;
  }

  private onData(chunk: Buffer): void {
    const offset = this.flowed;
    this.flowed += chunk.length;
    if (offset === 0) this.settleBegan(true);
    if (this.replay) {
      if (this.flowed > this.replayLimit) this.replay = undefined;
      else this.replay.push(chunk);
    }
    const canDetach = this.canDetach();
    for (const target of this.targets) {
      if (target.stream.destroyed) continue;
      if (target.kind === 'client' && canDetach && target.stream.writableLength + chunk.length > this.maxLag) {
        this.detach(target, offset);
        continue;
      }
      const paces = target.kind === 'store' || !canDetach;
      if (!target.stream.write(chunk) && paces && !this.waiting.has(target)) {
        this.waiting.add(target);
        target.stream.once('drain', () => {
          this.waiting.delete(target);
          this.resumeIfDrained();
        });
      }
    }
    if (this.waiting.size > 0) this.source.pause();
  }

  /** Hands a client that fell `maxLag` behind over to the store, from the first byte it lacks. */
  private detach(target: Target, offset: number): void {
    this.remove(target);
    this.detachedCount++;
    const { stream, end, onWait, onLost } = target;
    const continueFrom = (this.store as StoreTarget).continueFrom;
    // Never silently: a response cut short must be logged by whoever owns the client (onLost).
    const lost = (error: Error) => {
      if (stream.destroyed) return;
      onLost?.(error, offset);
      stream.destroy(error);
    };
    // Until the entry is committed nothing flows to this client, through no fault of its own.
    onWait?.(true);
    continueFrom(offset)
      .then((body) => {
        onWait?.(false);
        if (!body)
          throw new Error('the body was not stored (abandoned, refused or failed); the client cannot continue');
        if (stream.destroyed) return void body.destroy();
        body.once('error', lost);
        stream.once('close', () => body.destroy());
        body.pipe(stream, { end });
      })
      .catch((error: unknown) => {
        onWait?.(false);
        lost(error instanceof Error ? error : new Error(String(error)));
      });
  }

  private resumeIfDrained(): void {
    if (this.waiting.size === 0 && this.state === 'flowing') this.source.resume();
  }
}
