import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitFor } from './http.js';
import { findFreePort, startRedisServer, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface RedisCluster {
  /** The masters, in the order their slot ranges were assigned (0-5460, 5461-10922, 10923-16383). */
  readonly masters: RedisServer[];
  /** `redis://a,redis://b,…`: the cache's --store for this cluster. */
  readonly url: string;
  cleanup(): Promise<void>;
}

/**
 * A real Redis Cluster of `size` masters (no replicas) on free loopback ports, made with
 * `redis-cli --cluster create` (Debian package redis-tools, installed with redis-server).
 * `cluster-require-full-coverage no` keeps the other masters serving their slots when one
 * master dies: the partial failure a circuit breaker per slot owner is for.
 */
export async function startRedisCluster(size = 3, args: string[] = []): Promise<RedisCluster> {
  const masters: RedisServer[] = [];
  try {
    for (let i = 0; i < size; i += 1) {
      // The cluster bus gets a free port of its own (by default port + 10000: in the ephemeral range).
      const port = await findFreePort();
      let busPort = await findFreePort();
      while (busPort === port) busPort = await findFreePort();
      masters.push(
        await startRedisServer(
          [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            '2000',
            '--cluster-require-full-coverage',
            'no',
            '--cluster-port',
            String(busPort),
            ...args,
          ],
          port,
        ),
      );
    }
    const addresses = masters.map((master) => `127.0.0.1:${master.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    await Promise.all(masters.map((master) => waitForClusterOk(master.port)));
  } catch (error) {
    await Promise.all(masters.map((master) => master.cleanup()));
    throw error;
  }
  return {
    masters,
    url: masters.map((master) => master.url).join(','),
    cleanup: async () => {
      await Promise.all(masters.map((master) => master.cleanup()));
    },
  };
}

async function waitForClusterOk(port: number): Promise<void> {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  try {
    await waitFor(async () => /cluster_state:ok/.test(await client.cluster('INFO')), 'the cluster to be ok', 30_000);
  } finally {
    client.disconnect();
  }
}
