/**
 * Ctrl-C handling: the first SIGINT aborts the work in progress through an AbortSignal so the
 * command can stop the generation and close the runtime (its worker threads) cleanly; a second
 * one exits at once, for when cleanup itself hangs.
 */

/** Exit status of a process stopped by SIGINT (128 + 2), as shells report it. */
export const SIGINT_EXIT_CODE = 130;

/** Exit status of a process stopped by SIGTERM (128 + 15). */
export const SIGTERM_EXIT_CODE = 143;

/** An abort signal wired to Ctrl-C and SIGTERM. */
export interface Interrupt {
  readonly signal: AbortSignal;
  /** The exit status for the signal that came: 130 (SIGINT) or 143 (SIGTERM). */
  readonly exitCode: number;
  /** Removes the SIGINT and SIGTERM handlers (restoring Node's default: exit). */
  dispose(): void;
}

/**
 * Starts listening for Ctrl-C.
 *
 * @example
 * ```ts
 * const interrupt = onInterrupt();
 * try {
 *   for await (const frame of runtime.generate(request, { signal: interrupt.signal })) use(frame);
 * } finally {
 *   interrupt.dispose();
 * }
 * ```
 */
export function onInterrupt(): Interrupt {
  const controller = new AbortController();
  let exitCode = SIGINT_EXIT_CODE;
  // SIGTERM (a service manager, `kill`, a container stopping) is handled as Ctrl-C is: the
  // generation stops, the runtime closes, the trace gets its `end` record.
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(exitCode);
    exitCode = signal === 'SIGTERM' ? SIGTERM_EXIT_CODE : SIGINT_EXIT_CODE;
    process.stderr.write(`\nblock-cascade: ${signal === 'SIGTERM' ? 'terminated' : 'interrupted'}, stopping (Ctrl-C again to quit now)\n`);
    controller.abort(new Error(signal === 'SIGTERM' ? 'terminated by SIGTERM' : 'interrupted by Ctrl-C'));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/**
 * Waits for Ctrl-C (or SIGTERM): a server command's normal way to end. Call it once the
 * work's own {@link onInterrupt} handler is disposed, or the first Ctrl-C goes to both.
 *
 * @example
 * ```ts
 * const inspector = await startInspector({ records });
 * await untilStopped();
 * await inspector.close();
 * ```
 */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
