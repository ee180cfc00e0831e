import type { EntryMeta } from '@simple-cache/common';
import { StagedEntryWriter } from '../staged-entry-writer.js';
import { ChunkWriter } from './chunk-writer.js';

/** What a writer needs from its store (RedisStore implements it). */
export interface RedisWriterHost {
  /** The largest body stored. */
  readonly maxObjectSize: number;
  writeChunk(meta: EntryMeta, index: number, bytes: Buffer): Promise<void>;
  /** Deletes the chunks written so far; never rejects (they expire by themselves anyway). */
  discardBody(meta: EntryMeta): Promise<void>;
  /** Makes a complete body visible (one atomic script); rejects if Redis finds it incomplete. */
  publish(meta: EntryMeta, isAborted: () => boolean): Promise<EntryMeta>;
  release(writer: RedisEntryWriter): void;
}

/**
 * One write into the Redis store, with StagedEntryWriter's life cycle. Chunks go to Redis under
 * a fresh body id while the body streams; nothing points at them until the commit script has
 * checked that all of them are there.
 */
export class RedisEntryWriter extends StagedEntryWriter<ChunkWriter> {
  constructor(
    private readonly host: RedisWriterHost,
    meta: Omit<EntryMeta, 'checksum'>,
  ) {
    const stored = meta as EntryMeta;
    super(
      new ChunkWriter((index, bytes) => host.writeChunk(stored, index, bytes), host.maxObjectSize),
      meta,
      host.maxObjectSize,
    );
  }

  protected override publish(meta: EntryMeta, isAborted: () => boolean): Promise<EntryMeta> {
    return this.host.publish(meta, isAborted);
  }

  /** Deletes the chunks once no send is in flight (a late chunk would recreate the key). */
  protected override async discardStaged(): Promise<void> {
    await this.body.idle();
    await this.host.discardBody(this.meta as EntryMeta);
  }

  protected override release(): void {
    this.host.release(this);
  }
}
