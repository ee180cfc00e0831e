/**
 * Runs async tasks one at a time per name, in call order; different names run concurrently.
 * The disk store names a queue after a meta file (the key's hash), so two writers, a delete
 * and the start-up scan never interleave their read-modify-write of the same file.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(name: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    // A failed task must not poison the ones queued behind it.
    const result = previous.then(task, task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(name, tail);
    void tail.then(() => {
      if (this.tails.get(name) === tail) this.tails.delete(name);
    });
    return result;
  }

  /** True while a task for `name` is queued or running. */
  isBusy(name: string): boolean {
    return this.tails.has(name);
  }

  /** Resolves once every task queued so far (and any they queue meanwhile) has settled. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all(this.tails.values());
  }
}
