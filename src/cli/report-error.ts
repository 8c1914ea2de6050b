/**
 * How the CLI shows a failure: one clear line with the error's own message (our errors already
 * say what was wrong and where), the stack and causes only with `BLOCK_CASCADE_DEBUG=1`.
 */

/** Environment variable that turns on stack traces. */
export const DEBUG_ENV = 'BLOCK_CASCADE_DEBUG';

function debugText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e));
    e = e instanceof Error ? e.cause : undefined;
    if (e !== undefined) parts.push('caused by:');
  }
  return parts.join('\n');
}

/**
 * The text printed for an error: `block-cascade: <message>`, or the full stack and cause
 * chain when `debug` is set.
 *
 * @example
 * ```ts
 * process.stderr.write(formatError(err, process.env.BLOCK_CASCADE_DEBUG === '1') + '\n');
 * ```
 */
export function formatError(err: unknown, debug: boolean): string {
  if (debug) return `block-cascade: ${debugText(err)}`;
  const message = err instanceof Error ? err.message : String(err);
  return `block-cascade: ${message || (err instanceof Error ? err.name : 'unknown error')}`;
}

/**
 * Prints an error on stderr and sets the exit code to 1.
 *
 * @example
 * ```ts
 * try { await run(); } catch (err) { reportError(err); }
 * ```
 */
export function reportError(err: unknown): void {
  process.stderr.write(`${formatError(err, process.env[DEBUG_ENV] === '1')}\n`);
  process.exitCode = 1;
}
