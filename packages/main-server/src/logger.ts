import type { FastifyServerOptions } from 'fastify';

/**
 * Fastify's logger options: pretty lines for a person at a terminal, one JSON object per line
 * otherwise (files, pipes, log collectors, and tests that parse the listening address).
 */
export function createLoggerOptions(
  level: string,
  pretty = process.stdout.isTTY === true,
): FastifyServerOptions['logger'] {
  if (!pretty) return { level };
  return {
    level,
    transport: {
      target: 'pino-pretty',
      options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true },
    },
  };
}
