import type { EntryMeta } from '@simple-cache/common';
import { BodyFileWriter } from './body-file-writer.js';
import { unlinkQuietly } from './fs-utils.js';
import { StagedEntryWriter } from './staged-entry-writer.js';
import type { StoreFs } from './store-fs.js';

/** What a replica's writer needs from its store (DiskReplica implements it). */
export interface ReplicaWriterHost {
  readonly fs: StoreFs;
  readonly maxObjectSize: number;
  /** An I/O error stopped the write (degraded mode listens). */
  noteFailure(err: unknown): void;
  /** Asks the store's authority to make the staged body visible as `meta`. */
  publish(meta: EntryMeta, tmpPath: string): Promise<EntryMeta>;
  release(writer: ReplicaEntryWriter): void;
}

/** Told what becomes of a write, for whoever follows it from another process. */
export interface WriteProgress {
  /** The staged file exists (empty): from now on it can be opened by a follower. */
  opened(): void;
  /** Bytes now in the staged file, from its start. */
  flushed(bytes: number): void;
  /** The write is over: committed as `entry`, or not (aborted, failed). */
  ended(entry: EntryMeta | undefined): void;
}

/** The disk writer's body file, telling `progress` how far the file is written after each write. */
class ReportingBodyFile extends BodyFileWriter {
  constructor(
    fs: StoreFs,
    path: string,
    limit: number,
    private readonly progress: WriteProgress | undefined,
  ) {
    super(fs, path, limit);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    super._construct((error) => {
      if (!error) this.progress?.opened();
      callback(error);
    });
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    const progress = this.progress;
    if (progress === undefined) return super._writev(chunks, callback);
    super._writev(chunks, (error) => {
      // Writes run one after the other: once one is done, every byte counted is in the file.
      if (!error && !this.overLimit) progress.flushed(this.bytes);
      callback(error);
    });
  }
}

/**
 * One write into a disk store shared by several processes (a worker's DiskReplica): the body
 * streams into a temp file of the store's tmp/ exactly as DiskEntryWriter's does, and commit()
 * hands the fsynced file to the store's authority (the cluster primary) to publish.
 */
export class ReplicaEntryWriter extends StagedEntryWriter<BodyFileWriter> {
  private published: EntryMeta | undefined;

  constructor(
    private readonly host: ReplicaWriterHost,
    meta: Omit<EntryMeta, 'checksum'>,
    tmpPath: string,
    private readonly progress?: WriteProgress,
  ) {
    super(new ReportingBodyFile(host.fs, tmpPath, host.maxObjectSize, progress), meta, host.maxObjectSize);
  }

  /** The path of the staged body (a follower in another process reads it while it grows). */
  get stagedPath(): string {
    return this.body.path;
  }

  protected override async publish(meta: EntryMeta): Promise<EntryMeta> {
    // Once asked, the authority publishes or fails as a whole: an abort can no longer win.
    this.published = await this.host.publish(meta, this.body.path);
    return this.published;
  }

  protected override async discardStaged(): Promise<void> {
    await unlinkQuietly(this.host.fs, this.body.path).catch(() => undefined);
  }

  /** Runs once, whichever way the write ended. */
  protected override release(): void {
    this.progress?.ended(this.published);
    this.host.release(this);
  }

  protected override noteFailure(err: unknown): void {
    this.host.noteFailure(err);
  }
}
