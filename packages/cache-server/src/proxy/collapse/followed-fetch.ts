import { Writable } from 'node:stream';
import type { FollowedWrite, ProxyDeps } from '../context.js';
import { FanOut } from './fan-out.js';
import { mayShare, type FetchedResponse, type OriginFetch } from './origin-fetch.js';
import { continuationFromStore, REPLAY_LIMIT } from './start-storing.js';

/**
 * Another node's fetch of `key`, followed here (CrossNodeCollapse.follow): its body is read as
 * the other node writes it, and this node's clients join it as they would join a fetch of their
 * own (collapsed), from the first byte. Its response head arrived before anyone here asked, so a
 * client shares it only if it is fresh for its request, as one joining a local fetch late does.
 */
export function followedFetch(deps: ProxyDeps, key: string, write: FollowedWrite): OriginFetch {
  const { entry, body, committed } = write;
  const fanOut = new FanOut(body, { replayLimit: REPLAY_LIMIT });
  // In the store writer's place (the other node writes): it never holds the flow back, so a slow
  // client is detached and continues from the committed entry, as it would on the writing node.
  const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  fanOut.addStore(
    sink,
    continuationFromStore(deps, entry, () => committed),
  );
  let failed = false;
  void committed.then((stored) => {
    failed = stored === undefined;
    sink.destroy();
  });
  const outcome: FetchedResponse = {
    kind: 'response',
    response: {
      status: entry.status,
      headers: entry.headers,
      body,
      requestTime: entry.requestTime,
      responseTime: entry.responseTime,
    },
    storability: { storable: true, reason: 'storable' },
    entry,
    fanOut,
    stored: committed,
    // The other node's writer says whether it is stored; here only that it was not, once known.
    storeRefusal: () => (failed ? 'CACHE_ERR_WRITE_ABORTED' : undefined),
    followed: true,
  };
  setImmediate(() => fanOut.start());
  return {
    key,
    outcome: Promise.resolve(outcome),
    responded: true,
    responseHeaders: entry.headers,
    // The writing node abandons its own fetch (its commit is then dropped): nothing to do here.
    abandon: () => undefined,
    // Nor does it store anything to mark stale after a soft purge: the writing node stores it.
    soften: () => undefined,
    // The head is here already: no interim response is still to come.
    onInterim: () => () => undefined,
    canShare: mayShare,
  };
}
