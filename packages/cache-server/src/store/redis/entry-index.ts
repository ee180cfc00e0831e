import type { EntryMeta } from '@simple-cache/common';
import { LRUCache } from 'lru-cache';
import type { EntrySelection } from '../store.js';
import { createBodyId, hashKey } from './redis-keys.js';
import { GENERATION, INCARNATION, INDEX_KEY, INDEX_TAG } from './entry-index-scripts.js';
import type { Invalidation } from './invalidation-bus.js';
import type { LiveVariant } from './meta-cache.js';
import { parseLiveVariants } from './meta-fields.js';
import type { EntryTags } from './purge-record.js';
import type { RedisContext } from './redis-context.js';

/** An index member is kept this long past its entry's useful life: node clocks may disagree a little. */
export const INDEX_MARGIN_MS = 60_000;
/** Index keys whose incarnation a node keeps in memory. */
const KNOWN_INDEXES = 10_000;
/** Meta hashes asked for at once while a purge walks an index. */
const BATCH = 200;
/** Prefix shards: one per hex digit of the key's hash. */
const SHARDS = '0123456789abcdef'.split('');
/** After every key's first byte: entry keys are UTF-8 text, which never contains 0xff. */
const HIGHEST = Buffer.from([0xff]);

/** One index an entry belongs to: the store's generation, its key's prefix shard, or one of its tags. */
interface IndexRef {
  readonly kind: 'generation' | 'shard' | 'tag';
  /** Its first key: what the node remembers its incarnation under, and the slot its scripts run on. */
  readonly name: string;
  /** The Redis keys of the index (a shard has two, one slot). */
  readonly keys: readonly string[];
  /** What the index's script adds for the entry: the key (shard) or its hash (tag). */
  readonly member: string;
}

/**
 * The purge indexes (issue 16.7): a purge by tag or by prefix costs O(what it selects), not a
 * SCAN of every entry.
 *
 * - **Tags**: one sorted set per tag (`tag:{sha256(tag)}`, its own slot) of the hashes of the
 *   keys whose entries carry it, each scored with the time until which that entry may be used.
 * - **Prefixes**: 16 shards by the first hex digit of the key's hash (`{keys-<h>}`: no single
 *   hot key, no single cluster slot), each two sorted sets in one slot: the keys by name (one
 *   score, so ZRANGEBYLEX reads the keys under a prefix) and by useful-until (for trimming).
 *   A purge by prefix asks the 16 shards in parallel.
 *
 * A writer adds its entry to every index before the commit (so whatever a lookup finds, a purge
 * finds too), and a 304 moves its time on before the entry's. Members of entries that were
 * purged, replaced or expired stay until their time has passed (a purge reads them and finds
 * nothing: it costs O(matches + such members)); writers trim them.
 *
 * Redis may evict an index key (`allkeys-lru`) or an operator may delete it: a purge would then
 * not find the entries it held. So every index key has an *incarnation* (entry-index-scripts.ts),
 * each variant records the incarnations of its indexes when it is written (`x:<variant>`), and
 * a lookup serves only variants whose indexes are still the ones they were written into (the
 * others are deleted): an entry a purge cannot find is never served. The node keeps the
 * incarnations it has seen (no round trip on a lookup) and forgets those of a tag or of the
 * shards when a purge of that tag or of a prefix is announced — exactly when a lost index would
 * matter — and all of them on a resync.
 *
 * A purge of everything is O(1): every variant also records the store's *generation* (a random
 * id in one key), which the purge replaces; a variant of another generation is not served, and a
 * sweep deletes them in the background (RedisStore.purgeAll). A generation key Redis evicted is
 * created again with a new id: what was written under the old one is then a miss, never served
 * against a purge.
 */
export class EntryIndex {
  private readonly known = new LRUCache<string, string | false>({ max: KNOWN_INDEXES });
  /** Bumped when incarnations are forgotten: a read that raced that is used once, not kept. */
  private forgetting = 0;

  constructor(
    private readonly ctx: RedisContext,
    private readonly tagsOf: EntryTags,
  ) {}

  /**
   * Adds `meta`'s key to every index that must find it, to be kept until `usefulUntil` (plus a
   * margin); returns the record the variant keeps (`x:<variant>`): the indexes' incarnations.
   */
  async add(meta: EntryMeta, usefulUntil: number, now = Date.now()): Promise<string> {
    const until = usefulUntil + INDEX_MARGIN_MS;
    const before = this.forgetting;
    const incarnations = await Promise.all(
      this.indexesOf(meta).map(async (index) => {
        if (index.kind === 'generation') {
          // Known: no round trip (a stale one only makes the entry a miss once the node learns better).
          const known = this.known.get(index.name);
          if (typeof known === 'string') return known;
        }
        const script = index.kind === 'generation' ? GENERATION : index.kind === 'shard' ? INDEX_KEY : INDEX_TAG;
        const args = index.kind === 'generation' ? [createBodyId()] : [index.member, until, now, createBodyId()];
        const incarnation = String(await this.ctx.script(index.name, script, index.keys, args));
        if (this.forgetting === before) this.known.set(index.name, incarnation);
        return incarnation;
      }),
    );
    return incarnations.join(' ');
  }

  /**
   * A purge of everything: the store gets a new generation, so that no variant written before is
   * served again (a node learns it when the purge is announced). Returns the new generation.
   */
  async renew(): Promise<string> {
    const { client, gate, keys } = this.ctx;
    const generation = createBodyId();
    this.forgetting += 1;
    await gate.run(keys.generation, () => client.set(keys.generation, generation));
    this.known.set(keys.generation, generation);
    return generation;
  }

  /** The generation a variant was written under (its record's first part). */
  static generationOf(variant: LiveVariant): string | undefined {
    return variant.indexedAs?.split(' ')[0];
  }

  /** Whether every index `meta` must be added to can be reached now (a cluster master may be down). */
  isAvailable(meta: Pick<EntryMeta, 'key' | 'headers'>): boolean {
    return this.indexesOf(meta).every((index) => this.ctx.gate.isAvailable(index.name));
  }

  /**
   * `live` split into the variants every index of which is still the incarnation they were
   * written into, and the others (a purge could not find them).
   */
  async check(live: LiveVariant[]): Promise<{ indexed: LiveVariant[]; lost: LiveVariant[] }> {
    if (live.length === 0) return { indexed: live, lost: [] };
    const wanted = live.map((variant) => ({ variant, indexes: this.indexesOf(variant.meta) }));
    const asked = new Map<string, Promise<string | false>>();
    const current = (index: IndexRef, fresh: boolean) => {
      const { name } = index;
      const known = fresh ? undefined : this.known.get(name);
      if (known !== undefined) return Promise.resolve(known);
      let reading = asked.get(name);
      if (reading === undefined) asked.set(name, (reading = this.readIncarnation(index)));
      return reading;
    };
    const matches = async (variant: LiveVariant, indexes: IndexRef[]) => {
      const recorded = variant.indexedAs?.split(' ') ?? [];
      if (recorded.length !== indexes.length) return false;
      const agree = async (fresh: boolean) =>
        (await Promise.all(indexes.map((index) => current(index, fresh)))).every((inc, i) => inc === recorded[i]);
      // What this node remembers may be older than the variant: then Redis is asked.
      return (await agree(false)) || agree(true);
    };
    const verdicts = await Promise.all(wanted.map(({ variant, indexes }) => matches(variant, indexes)));
    return {
      indexed: live.filter((_, i) => verdicts[i]),
      lost: live.filter((_, i) => !verdicts[i]),
    };
  }

  /**
   * The entries `selection` may select, found through the indexes, in batches; a superset (the
   * caller matches each): variants of a selected key that lack the tag come along.
   */
  async *select(selection: EntrySelection): AsyncGenerator<EntryMeta[]> {
    if (selection.kind === 'prefix') {
      yield* this.selectPrefix(selection.prefix);
      return;
    }
    const seen = new Set<string>();
    for (const tag of selection.tags) {
      for await (const hashes of this.membersOf(this.ctx.keys.tagIndex(tag))) {
        const fresh = hashes.filter((hash) => !seen.has(hash));
        for (const hash of fresh) seen.add(hash);
        const found = await this.readEntries(fresh);
        if (found.length > 0) yield found;
      }
    }
  }

  /** A purge was announced (or a resync): the incarnations it may have found changed are asked again. */
  forget(event: Invalidation): void {
    switch (event.kind) {
      case 'key':
        return;
      case 'tag':
        return this.drop([this.ctx.keys.tagIndex(event.tag)]);
      case 'prefix':
        return this.drop(SHARDS.map((shard) => this.ctx.keys.prefixShard(shard).lex));
      case 'all':
        this.forgetting += 1;
        this.known.clear();
    }
  }

  private drop(names: readonly string[]): void {
    this.forgetting += 1;
    for (const name of names) this.known.delete(name);
  }

  /** The indexes of an entry: the generation, its key's prefix shard, then its tags (in the order tagsOf gives them). */
  private indexesOf(meta: Pick<EntryMeta, 'key' | 'headers'>): IndexRef[] {
    const { keys } = this.ctx;
    const hash = hashKey(meta.key);
    const shard = keys.prefixShard(hash.charAt(0));
    return [
      { kind: 'generation', name: keys.generation, keys: [keys.generation], member: '' },
      { kind: 'shard', name: shard.lex, keys: [shard.lex, shard.until], member: meta.key },
      ...this.tagsOf(meta).map((tag) => {
        const name = keys.tagIndex(tag);
        return { kind: 'tag' as const, name, keys: [name], member: hash };
      }),
    ];
  }

  private async readIncarnation(index: IndexRef): Promise<string | false> {
    const before = this.forgetting;
    const { client, gate } = this.ctx;
    const reply =
      index.kind === 'generation'
        ? await gate.run(index.name, () => client.get(index.name))
        : await this.ctx.script(index.name, INCARNATION, index.keys, []);
    const incarnation = typeof reply === 'string' ? reply : false;
    if (this.forgetting === before) this.known.set(index.name, incarnation);
    return incarnation;
  }

  /** Every shard's keys under `prefix` (ZRANGEBYLEX, paged by the last key read), their entries. */
  private async *selectPrefix(prefix: string): AsyncGenerator<EntryMeta[]> {
    const { client, gate } = this.ctx;
    const start = Buffer.from(prefix, 'utf8');
    const max = Buffer.concat([Buffer.from('['), start, HIGHEST]);
    const pages = SHARDS.map((shard) => ({
      lex: this.ctx.keys.prefixShard(shard).lex,
      min: Buffer.concat([Buffer.from('['), start]),
    }));
    while (pages.length > 0) {
      const replies = await Promise.all(
        pages.map((page) => gate.run(page.lex, () => client.zrangebylex(page.lex, page.min, max, 'LIMIT', 0, BATCH))),
      );
      const keys: string[] = [];
      for (let i = replies.length - 1; i >= 0; i -= 1) {
        const reply = replies[i]!;
        keys.push(...reply);
        if (reply.length < BATCH) pages.splice(i, 1);
        else pages[i]!.min = Buffer.concat([Buffer.from('('), Buffer.from(reply.at(-1)!, 'utf8')]);
      }
      const found = await this.readEntries(keys.map((key) => hashKey(key)));
      if (found.length > 0) yield found;
    }
  }

  /** The members of a tag index (ZSCAN: complete however the set changes meanwhile), without its incarnation. */
  private async *membersOf(index: string): AsyncGenerator<string[]> {
    const { client, gate } = this.ctx;
    let cursor = '0';
    do {
      const [next, flat] = await gate.run(index, () => client.zscan(index, cursor, 'COUNT', BATCH));
      cursor = next;
      const members = flat.filter((member, i) => i % 2 === 0 && !member.startsWith('!'));
      if (members.length > 0) yield members;
    } while (cursor !== '0');
  }

  /** The live variants of the keys with these hashes. */
  private async readEntries(hashes: readonly string[]): Promise<EntryMeta[]> {
    const { client, gate, keys } = this.ctx;
    const now = Date.now();
    const found: EntryMeta[] = [];
    for (let i = 0; i < hashes.length; i += BATCH) {
      const metaKeys = hashes.slice(i, i + BATCH).map((hash) => keys.meta(hash));
      const replies = await Promise.all(metaKeys.map((metaKey) => gate.run(metaKey, () => client.hgetall(metaKey))));
      for (const hash of replies) found.push(...parseLiveVariants(hash, now).map((variant) => variant.meta));
    }
    return found;
  }
}
