import type { EntryMeta } from '@simple-cache/common';

/**
 * The metadata of the bodies a memory tier holds, by body id and by key. It lets the tier
 * answer a lookup by itself when its inner store cannot (Redis away: the node keeps serving
 * what it holds), and drop what a purge names by key, prefix or tag (the purge events of a
 * store shared by several nodes), none of which a body id alone can tell.
 */
export class HeldEntries {
  private readonly byBodyId = new Map<string, EntryMeta>();
  private readonly byKey = new Map<string, Set<string>>();

  /** Records (or replaces) the metadata of a held body. */
  set(entry: EntryMeta): void {
    this.forget(entry.bodyId);
    this.byBodyId.set(entry.bodyId, structuredClone(entry));
    let bodyIds = this.byKey.get(entry.key);
    if (bodyIds === undefined) this.byKey.set(entry.key, (bodyIds = new Set()));
    bodyIds.add(entry.bodyId);
  }

  /** Newer metadata for a body already held (a 304's freshening); ignored for any other body. */
  update(entry: EntryMeta): void {
    const held = this.byBodyId.get(entry.bodyId);
    if (held !== undefined && held.key === entry.key && held.variant === entry.variant) this.set(entry);
  }

  forget(bodyId: string): void {
    const held = this.byBodyId.get(bodyId);
    if (held === undefined) return;
    this.byBodyId.delete(bodyId);
    const bodyIds = this.byKey.get(held.key);
    bodyIds?.delete(bodyId);
    if (bodyIds?.size === 0) this.byKey.delete(held.key);
  }

  /** Copies of the held variants of `key` (one per variant: the newest response). */
  variantsOf(key: string): EntryMeta[] {
    const newest = new Map<string, EntryMeta>();
    for (const bodyId of this.byKey.get(key) ?? []) {
      const entry = this.byBodyId.get(bodyId)!;
      const other = newest.get(entry.variant);
      if (other === undefined || other.responseTime < entry.responseTime) newest.set(entry.variant, entry);
    }
    return [...newest.values()].map((entry) => structuredClone(entry));
  }

  /** The body ids of the held entries `matches` selects. */
  bodyIdsWhere(matches: (entry: EntryMeta) => boolean): string[] {
    return [...this.byBodyId.values()].filter(matches).map((entry) => entry.bodyId);
  }

  /** The body ids held for `key` (one variant, or all). */
  bodyIdsOf(key: string, variant?: string): string[] {
    return [...(this.byKey.get(key) ?? [])].filter(
      (bodyId) => variant === undefined || this.byBodyId.get(bodyId)?.variant === variant,
    );
  }

  clear(): void {
    this.byBodyId.clear();
    this.byKey.clear();
  }
}
