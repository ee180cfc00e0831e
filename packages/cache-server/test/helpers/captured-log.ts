import { Writable } from 'node:stream';
import { pino, type Level, type Logger } from 'pino';
import { createLogger } from '../../src/logger.js';

/** One JSON log line as written, parsed (access lines have their own type: access-lines.ts). */
export type LogLine = Record<string, unknown>;

export interface CapturedLog {
  /** Writes into this capture. */
  readonly logger: Logger;
  /** Every line written so far, parsed, in order. */
  readonly lines: LogLine[];
  /** The same lines as written (for what parsing would hide: their length, their exact text). */
  readonly raw: string[];
}

export interface CaptureOptions {
  /**
   * The cache's own logger (src/logger.ts: its redaction, serializers and field names) instead
   * of a bare pino one, for tests of what the cache's log may hold.
   */
  cacheLogger?: boolean;
  /** With `cacheLogger`: the admin token it redacts. */
  adminToken?: string;
}

/**
 * A logger whose lines land in arrays instead of stdout or a file, for tests that read what was
 * logged: `const log = captureLog('warn')`, pass `log.logger`, read `log.lines`. A chunk with
 * several lines, or a line split across chunks, reads the same.
 */
export function captureLog(level: Level = 'info', options: CaptureOptions = {}): CapturedLog {
  const lines: LogLine[] = [];
  const raw: string[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const complete = (partial + chunk.toString()).split('\n');
      partial = complete.pop() ?? '';
      for (const line of complete.filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as LogLine);
      }
      done();
    },
  });
  const logger = options.cacheLogger
    ? createLogger(level, 'stdout', { stream, adminToken: options.adminToken })
    : pino({ level }, stream);
  return { logger, lines, raw };
}
