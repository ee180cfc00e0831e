/** One "this entry was last used at `recency`" fact; `seq` orders facts with equal times. */
export interface RecencyItem {
  recency: number;
  seq: number;
  key: string;
  variant: string;
}

/**
 * A binary min-heap of recency facts, least recent first. It is lazy: using an entry pushes a
 * new fact instead of moving the old one, and the owner (entry-index.ts) skips facts that no
 * longer match its entry when popping. That keeps markUsed O(log n) and lets entries loaded by
 * the start-up scan arrive in any order, which a plain insertion-ordered LRU list could not.
 */
export class RecencyHeap {
  private items: RecencyItem[] = [];

  get length(): number {
    return this.items.length;
  }

  push(item: RecencyItem): void {
    this.items.push(item);
    this.siftUp(this.items.length - 1);
  }

  pop(): RecencyItem | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (top !== undefined && last !== undefined && this.items.length > 0) {
      this.items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Rebuilds from the facts still valid, when stale ones have piled up. */
  replaceAll(items: RecencyItem[]): void {
    this.items = items;
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftUp(index: number): void {
    const { items } = this;
    let child = index;
    while (child > 0) {
      const parent = (child - 1) >> 1;
      if (!isBefore(items[child]!, items[parent]!)) break;
      swap(items, child, parent);
      child = parent;
    }
  }

  private siftDown(index: number): void {
    const { items } = this;
    let parent = index;
    for (;;) {
      const left = parent * 2 + 1;
      const right = left + 1;
      let first = parent;
      if (left < items.length && isBefore(items[left]!, items[first]!)) first = left;
      if (right < items.length && isBefore(items[right]!, items[first]!)) first = right;
      if (first === parent) return;
      swap(items, parent, first);
      parent = first;
    }
  }
}

function isBefore(a: RecencyItem, b: RecencyItem): boolean {
  return a.recency < b.recency || (a.recency === b.recency && a.seq < b.seq);
}

function swap(items: RecencyItem[], i: number, j: number): void {
  const item = items[i]!;
  items[i] = items[j]!;
  items[j] = item;
}
