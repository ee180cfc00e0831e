import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { Bus } from './bus.js';
import type { ListenAddresses } from '../listen/addresses.js';
import { OP, type ListeningEvent } from './protocol.js';

/** One place of the pool: the worker holding it changes when one dies and is replaced. */
export interface Member {
  /** 1…N, kept by the replacement: what metrics label a worker with. */
  slot: number;
  worker: Worker;
  bus: Bus;
  pid: number;
  /** True once it listens on the port. */
  listening: boolean;
  /** Replacements of this slot so far. */
  restarts: number;
  /** When the primary forked it (Unix ms): how soon a crashed worker was replaced, by the primary's clock. */
  forkedAt: number;
  /** Where it accepts requests, once it listens (the same ports for every worker). */
  addresses?: ListenAddresses;
}

export interface SupervisorOptions {
  count: number;
  logger: Logger;
  /** Wires a new worker's bus (store, collapse, admin); returns what to undo when it is gone. */
  attach(member: Member): () => void;
  /** A worker is gone (after detaching): its leftovers can go. */
  gone(member: Member): void;
}

/** Replacements of one slot within CRASH_WINDOW_MS beyond which the next waits (a worker that cannot start). */
const QUICK_RESTARTS = 3;
const CRASH_WINDOW_MS = 10_000;
const MAX_RESTART_DELAY_MS = 30_000;

/**
 * Forks the workers and keeps them running: one that exits while the pool is not stopping is
 * replaced at once in the same slot (after a few quick crashes in a row, with a growing delay,
 * so a worker that cannot start does not fork in a loop). The listening socket is shared and the
 * kernel gives each connection to the worker that accepts it first (SCHED_NONE): with Node's
 * round-robin the primary would accept every connection and pass it on over IPC.
 */
export class Supervisor {
  private readonly members = new Map<number, Member>();
  private readonly crashes = new Map<number, number[]>();
  private stopping = false;
  private everListened = false;
  private failStart: (error: Error) => void = () => undefined;

  constructor(private readonly options: SupervisorOptions) {
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({});
  }

  /** Forks every worker; resolves when all listen, rejects when one dies before any did. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.failStart = reject;
      let waiting = this.options.count;
      for (let slot = 1; slot <= this.options.count; slot++) {
        this.fork(slot, 0, () => {
          if (--waiting === 0) resolve();
        });
      }
    });
  }

  list(): Member[] {
    return [...this.members.values()].sort((a, b) => a.slot - b.slot);
  }

  /** Asks every listening worker; a worker that fails or does not answer in time is left out. */
  async ask<T>(op: string, args: unknown = null, timeoutMs = 5000): Promise<T[]> {
    const answers = await Promise.all(
      this.list()
        .filter((member) => member.listening)
        .map((member) => member.bus.request<T>(op, args, timeoutMs).catch(() => undefined)),
    );
    return answers.filter((answer): answer is Awaited<T> => answer !== undefined) as T[];
  }

  /** Tells every worker to drain and resolves once all have exited. */
  async drain(): Promise<void> {
    this.stopping = true;
    const exits = this.list().map(
      (member) =>
        new Promise<void>((resolve) =>
          member.worker.isDead() ? resolve() : member.worker.once('exit', () => resolve()),
        ),
    );
    for (const member of this.list()) member.bus.notify(OP.drain);
    await Promise.all(exits);
  }

  private fork(slot: number, restarts: number, onListening?: () => void): void {
    // The slot and how often it was refilled: a worker's request ids carry both (logger.ts).
    const worker = cluster.fork({ SC_WORKER_SLOT: String(slot), SC_WORKER_RESTARTS: String(restarts) });
    const bus = new Bus(worker);
    const member: Member = {
      slot,
      worker,
      bus,
      pid: worker.process.pid ?? 0,
      listening: false,
      restarts,
      forkedAt: Date.now(),
    };
    this.members.set(slot, member);
    const detach = this.options.attach(member);
    bus.on<ListeningEvent>(OP.listening, ({ addresses }) => {
      member.listening = true;
      member.addresses = addresses;
      this.everListened = true;
      onListening?.();
    });
    worker.once('exit', (code, signal) => {
      bus.close();
      detach();
      if (this.members.get(slot) === member) this.members.delete(slot);
      this.options.gone(member);
      if (this.stopping) return;
      if (!this.everListened) {
        this.failStart(new Error(`worker ${slot} exited before listening (code ${code}, signal ${signal})`));
        return;
      }
      this.options.logger.warn({ worker: slot, workerPid: member.pid, code, signal }, 'worker exited; replacing it');
      this.replace(slot, restarts + 1);
    });
  }

  private replace(slot: number, restarts: number): void {
    const now = Date.now();
    const recent = (this.crashes.get(slot) ?? []).filter((at) => now - at < CRASH_WINDOW_MS);
    recent.push(now);
    this.crashes.set(slot, recent);
    const excess = recent.length - QUICK_RESTARTS;
    const delay = excess <= 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (excess - 1));
    // Not unref'd: while every worker is down, this timer is what keeps the primary alive.
    setTimeout(() => {
      if (!this.stopping) this.fork(slot, restarts);
    }, delay);
  }
}
