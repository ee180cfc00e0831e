import { readFile } from 'node:fs/promises';

/**
 * One JSON access line as the cache writes it (src/access-line.ts), read back by a test: every
 * field a line may carry, the optional ones only when they apply.
 */
export interface AccessLine {
  level: number;
  time: number;
  msg: string;
  reqId: string;
  client: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  cache: string;
  fwd?: string;
  rule?: string;
  ms: number;
  originMs?: number;
  error?: string;
  aborted?: boolean;
}

/** The JSON access lines of `text` (one a line; blank lines skipped), parsed. */
export function parseAccessLines(text: string): AccessLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AccessLine);
}

/** The JSON access lines written to `file` so far; none while it does not exist. */
export async function readAccessLines(file: string): Promise<AccessLine[]> {
  return parseAccessLines(await readFile(file, 'utf8').catch(() => ''));
}
