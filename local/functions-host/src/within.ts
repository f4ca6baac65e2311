// A shutdown step that cannot finish (an SDK link waiting on a connection that stalls and
// never errors) must not hold up the rest of the shutdown: wait so long, then go on.

export class StepTimeout extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms; going on without it`);
    this.name = 'StepTimeout';
  }
}

/** Resolves with `work`, or rejects with StepTimeout after `ms`. The timer never keeps the process alive. */
export async function within<T>(what: string, ms: number, work: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepTimeout(what, ms)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([Promise.resolve().then(work), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
