import { createHash } from 'node:crypto';
import { masterNodes, type RedisClient } from './redis-connection.js';

export interface LuaScript {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

export function defineScript(name: string, lua: string): LuaScript {
  return { name, lua, sha: createHash('sha1').update(lua).digest('hex') };
}

type Arg = string | number | Buffer;

/**
 * Runs a script by its sha (EVALSHA), falling back to sending its text when the server does
 * not know it yet (a fresh or restarted Redis, another cluster node). `buffers` keeps bulk
 * replies as Buffers (body chunks); otherwise they are strings.
 */
export async function runScript(
  client: RedisClient,
  script: LuaScript,
  keys: readonly string[],
  args: readonly Arg[],
  buffers = false,
): Promise<unknown> {
  const call = (command: 'EVALSHA' | 'EVAL', first: string) => {
    const argv: Arg[] = [first, keys.length, ...keys, ...args];
    return buffers ? client.callBuffer(command, argv) : client.call(command, argv);
  };
  try {
    return await call('EVALSHA', script.sha);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return call('EVAL', script.lua);
    throw err;
  }
}

/** Loads scripts up front so that the first EVALSHA of each (e.g. a fire-and-forget one) keeps its order. */
export async function loadScripts(client: RedisClient, scripts: readonly LuaScript[]): Promise<void> {
  const loads = masterNodes(client).flatMap((node) =>
    scripts.map((script) => node.call('SCRIPT', ['LOAD', script.lua])),
  );
  await Promise.all(loads);
}
