/**
 * Errors of the synthetic sprite-clip generator. They are programming or configuration errors
 * (a bad spec, a bad option) and say which field is wrong, so a failing data job names the
 * flag to fix.
 */

/**
 * A clip spec, prompt or generator option that cannot be used.
 *
 * @example
 * ```ts
 * try {
 *   renderClip(spec, 12);
 * } catch (error) {
 *   if (error instanceof InvalidClipError) console.error(error.where, error.message);
 * }
 * ```
 */
export class InvalidClipError extends Error {
  readonly code = 'INVALID_CLIP';
  /**
   * @param where the field that is wrong, e.g. `spec.segments[1].fromFrame` or `options.width`
   * @param problem what is wrong with it
   */
  constructor(
    readonly where: string,
    problem: string,
  ) {
    super(`${where}: ${problem}`);
    this.name = 'InvalidClipError';
  }
}
