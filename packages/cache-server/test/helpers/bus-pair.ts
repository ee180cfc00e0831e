import { EventEmitter } from 'node:events';
import { Bus, type Endpoint } from '../../src/cluster/bus.js';

/**
 * Two Buses joined in memory the way the cluster's IPC channel joins a primary and a worker:
 * every message is serialised to JSON and delivered on a later turn of the event loop, in order.
 * For testing the primary's and the worker's sides together in one process.
 */
export function busPair(): { primary: Bus; worker: Bus; close(): void } {
  const toPrimary = new EventEmitter();
  const toWorker = new EventEmitter();
  let connected = true;
  const endpoint = (inbox: EventEmitter, outbox: EventEmitter): Endpoint => ({
    send: (message) => {
      const text = JSON.stringify(message);
      setImmediate(() => connected && outbox.emit('message', JSON.parse(text)));
    },
    isConnected: () => connected,
    on: (event, listener) => inbox.on(event, listener),
    off: (event, listener) => inbox.off(event, listener),
  });
  const primary = new Bus(endpoint(toPrimary, toWorker));
  const worker = new Bus(endpoint(toWorker, toPrimary));
  return {
    primary,
    worker,
    close: () => {
      connected = false;
      primary.close();
      worker.close();
    },
  };
}
