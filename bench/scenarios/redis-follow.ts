import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { download, type Transfer } from '../lib/download.js';
import { formatMs } from '../lib/format.js';
import { listenInProcess } from '../lib/http.js';
import type { Progress } from '../lib/report.js';

/** The body a second node asks for while the first is downloading it. */
const FOLLOW_SIZE = 50 * 1024 * 1024;
/** The origin sends it at this rate (bytes/s): 2 s for 50 MiB, so the second node asks mid-download. */
const FOLLOW_RATE = 25 * 1024 * 1024;
/** The second node asks once the origin has sent this much to the first. */
const FOLLOW_AFTER = 10 * 1024 * 1024;
export const FOLLOW_ROUNDS = 3;

export interface FollowRound {
  /** The second node's time to first and last byte, from its request. */
  ttfbMs: number;
  totalMs: number;
  /** When the first node's client had its last byte, from the second node's request. */
  holderDoneMs: number;
  xCache: string | undefined;
}

export interface FollowResult {
  sizeBytes: number;
  rateBytesPerSec: number;
  askedAfterBytes: number;
  rounds: FollowRound[];
  median: FollowRound;
}

interface PacedOrigin {
  url: string;
  /** Resolves once the origin has sent `bytes` of `path`'s body. */
  sent(path: string, bytes: number): Promise<void>;
  count(path: string): number;
  close(): Promise<void>;
}

/**
 * A bare node:http origin sending FOLLOW_SIZE bytes (with Content-Length, cacheable) at
 * FOLLOW_RATE, paced by the clock, counting requests by path.
 */
async function startPacedOrigin(): Promise<PacedOrigin> {
  const block = randomBytes(1024 * 1024);
  const counts = new Map<string, number>();
  const progress = new Map<string, { bytes: number; waiters: { bytes: number; wake: () => void }[] }>();
  const stateOf = (path: string) => {
    let state = progress.get(path);
    if (!state) progress.set(path, (state = { bytes: 0, waiters: [] }));
    return state;
  };
  const server = http.createServer((request, response) => {
    const path = request.url ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const state = stateOf(path);
    response.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': FOLLOW_SIZE,
      'cache-control': 'public, max-age=86400',
    });
    const started = performance.now();
    let sent = 0;
    const pump = () => {
      if (response.destroyed) return;
      const due = Math.min(FOLLOW_SIZE, Math.floor(((performance.now() - started) / 1000) * FOLLOW_RATE));
      while (sent < due) {
        const offset = sent % block.length;
        const piece = block.subarray(offset, Math.min(block.length, offset + (due - sent)));
        response.write(piece);
        sent += piece.length;
      }
      state.bytes = Math.max(state.bytes, sent);
      state.waiters = state.waiters.filter((waiter) => (waiter.bytes <= state.bytes ? void waiter.wake() : true));
      if (sent >= FOLLOW_SIZE) response.end();
      else setTimeout(pump, 5);
    };
    pump();
  });
  const listening = await listenInProcess(server);
  return {
    url: listening.url,
    sent: (path, bytes) =>
      new Promise((resolve) => {
        const state = stateOf(path);
        if (state.bytes >= bytes) resolve();
        else state.waiters.push({ bytes, wake: resolve });
      }),
    count: (path) => counts.get(path) ?? 0,
    close: () => listening.close(),
  };
}

/**
 * Issue 16.8: node A misses a 50 MiB body and downloads it from a slowed origin; once the origin
 * has sent FOLLOW_AFTER bytes, node B (same Redis) asks for it too. B's time to first and last
 * byte, from its request, against when A's client had its last byte. `startNodes` starts two
 * Redis-store caches in front of the given origin.
 */
export async function measureFollow(
  startNodes: (origin: string) => Promise<[string, string]>,
  progress: Progress,
): Promise<FollowResult> {
  const origin = await startPacedOrigin();
  try {
    const [nodeA, nodeB] = await startNodes(origin.url);
    const rounds: FollowRound[] = [];
    for (let round = 0; round < FOLLOW_ROUNDS; round += 1) {
      const path = `/follow-${round}-${Date.now()}.bin`;
      const startedA = performance.now();
      const first = download(`${nodeA}${path}`);
      await origin.sent(path, FOLLOW_AFTER);
      const startedB = performance.now();
      const second = await download(`${nodeB}${path}`);
      const holder: Transfer = await first;
      for (const [name, transfer] of [
        ['A', holder],
        ['B', second],
      ] as const) {
        if (transfer.status !== 200 || transfer.bytes !== FOLLOW_SIZE) {
          throw new Error(`node ${name} ${path}: ${transfer.status}, ${transfer.bytes} bytes`);
        }
      }
      if (origin.count(path) !== 1) throw new Error(`${path}: ${origin.count(path)} origin requests, expected 1`);
      const row: FollowRound = {
        ttfbMs: second.ttfbMs,
        totalMs: second.totalMs,
        holderDoneMs: holder.totalMs - (startedB - startedA),
        xCache: second.xCache,
      };
      rounds.push(row);
      progress(
        `redis follow: second node first byte ${formatMs(row.ttfbMs)}, last ${formatMs(row.totalMs)} ` +
          `(first node's last byte ${formatMs(row.holderDoneMs)}) ${row.xCache ?? ''}`,
      );
    }
    const median = (pick: (row: FollowRound) => number) =>
      [...rounds].map(pick).sort((a, b) => a - b)[Math.floor(rounds.length / 2)] as number;
    return {
      sizeBytes: FOLLOW_SIZE,
      rateBytesPerSec: FOLLOW_RATE,
      askedAfterBytes: FOLLOW_AFTER,
      rounds,
      median: {
        ttfbMs: median((row) => row.ttfbMs),
        totalMs: median((row) => row.totalMs),
        holderDoneMs: median((row) => row.holderDoneMs),
        xCache: rounds[0]?.xCache,
      },
    };
  } finally {
    await origin.close();
  }
}
