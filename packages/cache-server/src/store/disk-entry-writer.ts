import type { EntryMeta } from '@simple-cache/common';
import { BodyFileWriter } from './body-file-writer.js';
import { unlinkQuietly } from './fs-utils.js';
import type { StoreFs } from './store-fs.js';
import { StagedEntryWriter } from './staged-entry-writer.js';

/** What a writer needs from its store (DiskStore implements it). */
export interface WriterHost {
  readonly fs: StoreFs;
  /** The largest body stored (the smaller of the store's maxSize and maxObjectSize). */
  readonly maxObjectSize: number;
  /** An I/O error stopped the write (DiskStore's degraded mode listens). */
  noteFailure(err: unknown): void;
  /**
   * Makes a finished body visible: moves `tmpPath` into place and records `meta`. Calls
   * `isAborted` once it holds the key's lock, the last moment an abort can still win.
   */
  publish(meta: EntryMeta, tmpPath: string, isAborted: () => boolean): Promise<EntryMeta>;
  /** The writer is done (committed, failed or aborted) and its temp file handled. */
  release(writer: DiskEntryWriter): void;
}

/**
 * One write into the disk store: the body streams into a fresh temp file that publish() renames
 * into place. The life cycle and its guarantees are StagedEntryWriter's.
 */
export class DiskEntryWriter extends StagedEntryWriter<BodyFileWriter> {
  constructor(
    private readonly host: WriterHost,
    meta: Omit<EntryMeta, 'checksum'>,
    tmpPath: string,
  ) {
    super(new BodyFileWriter(host.fs, tmpPath, host.maxObjectSize), meta, host.maxObjectSize);
  }

  protected override publish(meta: EntryMeta, isAborted: () => boolean): Promise<EntryMeta> {
    return this.host.publish(meta, this.body.path, isAborted);
  }

  protected override async discardStaged(): Promise<void> {
    // If even that fails, close() and the next open() empty tmp/ anyway.
    await unlinkQuietly(this.host.fs, this.body.path).catch(() => undefined);
  }

  protected override release(): void {
    this.host.release(this);
  }

  protected override noteFailure(err: unknown): void {
    this.host.noteFailure(err);
  }
}
