import { randomBytes } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { EntryMeta } from '@simple-cache/common';
import {
  ifRangeAllows,
  multipartByteranges,
  parseRange,
  readField,
  type MultipartPlan,
  type RequestView,
} from '../../policy/index.js';
import type { ByteRange, Store } from '../../store/store.js';

/** How the client's Range is answered from a complete representation. */
export type RangePlan =
  | { kind: 'whole' }
  | { kind: 'unsatisfiable' }
  | { kind: 'single'; range: ByteRange }
  | { kind: 'multipart'; layout: MultipartPlan };

type Validators = Pick<EntryMeta, 'headers' | 'responseTime'>;

/** The representation as it is: no Range, or one that does not apply. */
export const WHOLE: RangePlan = Object.freeze({ kind: 'whole' });

/**
 * RFC 9110 §14.2: only GET has range semantics, and only a complete 200 of known `size` can be
 * cut; If-Range must hold (§13.1.5); one range gives a 206 with Content-Range, several a
 * multipart/byteranges body (§14.6); none satisfiable gives 416. Anything else: the whole body.
 */
export function planRange(view: RequestView, status: number, validators: Validators, size: number): RangePlan {
  const header = readField(view.headers, 'range');
  if (view.method !== 'GET' || status !== 200 || header === undefined || !(size >= 0)) return WHOLE;
  if (!ifRangeAllows(view, validators)) return WHOLE;
  const ranges = parseRange(header, size);
  if (ranges === undefined) return WHOLE;
  if (ranges === 'unsatisfiable') return { kind: 'unsatisfiable' };
  if (ranges.length === 1) return { kind: 'single', range: ranges[0] as ByteRange };
  const partType = readField(validators.headers, 'content-type');
  return { kind: 'multipart', layout: multipartByteranges(ranges, size, partType, newBoundary()) };
}

/** True when the plan sends only part of the representation (a 206). */
export function isPartial(plan: RangePlan): plan is Extract<RangePlan, { kind: 'single' | 'multipart' }> {
  return plan.kind === 'single' || plan.kind === 'multipart';
}

/**
 * Cuts the parts of `plan` out of a stream of the representation that starts at byte `base`:
 * part heads and the multipart tail are written around the bytes (RFC 9110 §14.6). The readable
 * side ends as soon as the last part is out; later input is read and dropped, so a shared
 * origin fetch feeding this stream is never held up by it.
 */
export function sliceRanges(plan: Extract<RangePlan, { kind: 'single' | 'multipart' }>, base = 0): Transform {
  const parts =
    plan.kind === 'single'
      ? [{ range: plan.range, head: '' }]
      : plan.layout.parts.map((part) => ({ range: part.range, head: part.head }));
  const tail = plan.kind === 'multipart' ? plan.layout.tail : '';
  return new RangeSlicer(parts, tail, base);
}

/**
 * The body of `plan` from the store: one read from the first wanted byte to the last, cut by
 * `sliceRanges`, so even a multipart answer opens the body once.
 */
export async function openStoredRanges(
  store: Store,
  entry: EntryMeta,
  plan: Extract<RangePlan, { kind: 'single' | 'multipart' }>,
): Promise<Readable> {
  if (plan.kind === 'single') return store.openBody(entry, plan.range);
  const { parts } = plan.layout;
  const span = {
    start: (parts[0] as { range: ByteRange }).range.start,
    end: (parts.at(-1) as { range: ByteRange }).range.end,
  };
  const body = await store.openBody(entry, span);
  const slicer = sliceRanges(plan, span.start);
  body.once('error', (error) => slicer.destroy(error));
  return body.pipe(slicer);
}

/** RFC 2046 §5.1.1: up to 70 characters; random so that it cannot occur in the body by chance. */
function newBoundary(): string {
  return `simple-cache-${randomBytes(12).toString('hex')}`;
}

interface Part {
  range: ByteRange;
  head: string;
}

class RangeSlicer extends Transform {
  private position: number;
  private index = 0;
  private headSent = false;
  private finished = false;

  constructor(
    private readonly parts: Part[],
    private readonly tail: string,
    base: number,
  ) {
    super();
    this.position = base;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const chunkStart = this.position;
    const chunkEnd = chunkStart + chunk.length;
    this.position = chunkEnd;
    if (!this.finished) this.emitParts(chunk, chunkStart, chunkEnd);
    done();
  }

  override _flush(done: TransformCallback): void {
    // The source ended before the last wanted byte: a short body must not look complete.
    done(this.finished ? null : new Error('the body ended before the requested ranges'));
  }

  private emitParts(chunk: Buffer, chunkStart: number, chunkEnd: number): void {
    while (this.index < this.parts.length) {
      const { range, head } = this.parts[this.index] as Part;
      if (range.start >= chunkEnd) return;
      if (!this.headSent && head !== '') this.push(Buffer.from(head));
      this.headSent = true;
      const from = Math.max(range.start, chunkStart) - chunkStart;
      const to = Math.min(range.end + 1, chunkEnd) - chunkStart;
      if (to > from) this.push(chunk.subarray(from, to));
      if (range.end + 1 > chunkEnd) return;
      this.index++;
      this.headSent = false;
    }
    if (this.tail !== '') this.push(Buffer.from(this.tail));
    this.finished = true;
    this.push(null);
  }
}
