import pino, { type Logger } from 'pino';

/** JSON lines for machines; pretty output when a person watches the terminal. */
export function createLogger(level: string, destination: 'stdout' | 'silent' = 'stdout'): Logger {
  if (destination === 'silent') return pino({ level: 'silent' });
  if (process.stdout.isTTY) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level });
}
