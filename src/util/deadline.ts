/** Runs `work` and rejects with DeadlineError if it has not settled within `ms`. */
export class DeadlineError extends Error {
  readonly code = 'GMETAD_DEADLINE';
}

export async function withDeadline<T>(work: () => T | Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(work),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeadlineError(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
