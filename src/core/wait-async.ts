/**
 * `Atomics.waitAsync` with its type: Node has it since 16, but TypeScript types it from ES2024,
 * past this project's `lib`.
 */

/** What `Atomics.waitAsync` returns: at once when the value already differs, else a promise. */
export type WaitAsyncResult = { readonly async: false; readonly value: 'not-equal' | 'timed-out' } | { readonly async: true; readonly value: Promise<'ok' | 'timed-out'> };

/**
 * Waits, without blocking the thread, until `array[index]` is notified or no longer `value`.
 *
 * @example
 * ```ts
 * const wait = waitAsync(flags, 0, 0);
 * if (wait.async) await wait.value;
 * ```
 */
export const waitAsync = (Atomics as unknown as { waitAsync: (array: Int32Array, index: number, value: number, timeoutMs?: number) => WaitAsyncResult }).waitAsync;
