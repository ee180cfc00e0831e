/**
 * Everything the benchmark starts or creates registers its undo here: child processes, temp
 * folders. `runCleanup` undoes them newest first, once, whether the run ends normally, by an
 * error or by Ctrl-C / SIGTERM.
 */
type Task = () => Promise<void> | void;

const tasks = new Set<Task>();
let running: Promise<void> | undefined;

/**
 * Registers `task`; the returned function unregisters it (when it was done some other way).
 * Once cleanup has begun, a late registration (a server a scenario was still starting) runs at once.
 */
export function onCleanup(task: Task): () => void {
  if (running) {
    void Promise.resolve()
      .then(task)
      .catch(() => undefined);
    return () => undefined;
  }
  tasks.add(task);
  return () => tasks.delete(task);
}

/** True once cleanup has begun: start nothing new. */
export function isStopping(): boolean {
  return running !== undefined;
}

export function runCleanup(): Promise<void> {
  running ??= (async () => {
    for (const task of [...tasks].reverse()) {
      tasks.delete(task);
      try {
        await task();
      } catch (error) {
        process.stderr.write(`cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  })();
  return running;
}

/**
 * The first signal cleans up and exits. Ctrl-C reaches us twice (from the terminal, and relayed
 * by the tsx and pnpm wrappers), so only a signal more than 2 s after the first one exits at once.
 */
export function cleanUpOnSignals(): void {
  let firstAt: number | undefined;
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(signal, () => {
      if (firstAt !== undefined) {
        if (performance.now() - firstAt > 2000) process.exit(code);
        return;
      }
      firstAt = performance.now();
      process.stderr.write(`\n${signal}: stopping servers and removing temp files…\n`);
      void runCleanup().finally(() => process.exit(code));
    });
  }
}
