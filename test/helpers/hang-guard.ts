// Tests wait for the event that proves a behaviour (a page state, a message, a process's exit), never for a
// number of seconds: the suite runs on slow machines shared with other work, where a page that is ready in 5 s
// alone took over a minute. The only time limit is this guard against a hang, with ava's own timeout behind it.
export const HANG_GUARD_MS = 5 * 60_000;

/** `work`, or, if it has not settled within HANG_GUARD_MS (it hangs), a failure with `what()`'s description then. */
export function withinHangGuard<T>(what: () => string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung for ${HANG_GUARD_MS / 60_000} min: ${what()}`)), HANG_GUARD_MS).unref();
  });
  return Promise.race([work, hung]).finally(() => clearTimeout(timer));
}
