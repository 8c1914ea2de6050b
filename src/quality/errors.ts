/**
 * Errors of the quality probe. Bad *content* (noise, no sprite) is never an error, it scores
 * low; only input that cannot be read as a video of blocks is refused.
 */

/**
 * Frames or options handed to the probe that it cannot interpret: mismatched frame sizes, a
 * byte count that does not match width·height·3, too few prompts for the blocks.
 *
 * @example
 * ```ts
 * try {
 *   probeVideo(frames, { framesPerBlock: 3, prompts });
 * } catch (error) {
 *   if (error instanceof ProbeInputError) console.error(error.where, error.message);
 * }
 * ```
 */
export class ProbeInputError extends TypeError {
  readonly code = 'INVALID_PROBE_INPUT';
  /**
   * @param where the input that is wrong, e.g. `frames[3].rgb` or `options.prompts`
   * @param problem what is wrong with it
   */
  constructor(
    readonly where: string,
    problem: string,
  ) {
    super(`${where}: ${problem}`);
    this.name = 'ProbeInputError';
  }
}
