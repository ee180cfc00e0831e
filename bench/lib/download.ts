import { LOAD_CORE, runPinned } from './processes.js';

export interface Transfer {
  status: number;
  bytes: number;
  /** From the start of the request to the first byte of the answer. */
  ttfbMs: number;
  totalMs: number;
  bytesPerSec: number;
  xCache: string | undefined;
}

/** Downloads `url` to /dev/null with curl on the load generator's core (fast enough for GB/s). */
export async function download(url: string, curlArgs: readonly string[] = []): Promise<Transfer> {
  const format = '\\n%{http_code} %{size_download} %{time_starttransfer} %{time_total}';
  const result = await runPinned(LOAD_CORE, 'curl', [
    '-sS',
    '-o',
    '/dev/null',
    '-D',
    '-',
    '-w',
    format,
    ...curlArgs,
    url,
  ]);
  if (result.code !== 0) throw new Error(`curl ${url} failed (${result.code}): ${result.stderr}`);
  const lines = result.stdout.trimEnd().split(/\r?\n/);
  const [status, bytes, ttfb, total] = (lines.at(-1) ?? '').split(' ').map(Number);
  const xCache = lines.map((line) => /^x-cache:\s*(\S+)/i.exec(line)?.[1]).find((value) => value !== undefined);
  const totalSec = total ?? NaN;
  return {
    status: status ?? 0,
    bytes: bytes ?? 0,
    ttfbMs: (ttfb ?? NaN) * 1000,
    totalMs: totalSec * 1000,
    bytesPerSec: (bytes ?? 0) / totalSec,
    xCache,
  };
}

/** The median time to first byte over `count` one-byte range requests: a steadier reference than one sample. */
export async function measureTtfb(url: string, count = 5): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < count; i += 1) samples.push((await download(url, ['-r', '0-0'])).ttfbMs);
  return samples.sort((a, b) => a - b)[Math.floor(count / 2)] as number;
}
