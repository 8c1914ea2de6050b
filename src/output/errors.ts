/**
 * Errors of the output writers (GIF, PNG, MP4/WebM): a frame that does not fit, or options that make no
 * sense. The message names the output and the frame.
 */

/** Codes of {@link OutputError}. */
export type OutputErrorCode =
  /** A frame's size or byte length is wrong, or differs from the first frame's. */
  | 'E_OUTPUT_FRAME'
  /** An option (e.g. `fps`) is invalid. */
  | 'E_OUTPUT_OPTION'
  /** A writer was used after `finish()`, or finished with no frames. */
  | 'E_OUTPUT_STATE'
  /** An external program the output needs (ffmpeg for MP4/WebM) is missing, lacks an encoder, or failed. */
  | 'E_OUTPUT_TOOL'
  /** The file or folder cannot be written (a folder where a file goes, no permission, a full disk). */
  | 'E_OUTPUT_WRITE';

/**
 * An output could not be written.
 *
 * @example
 * ```ts
 * try {
 *   encodeGif(frames, { fps: 0 });
 * } catch (err) {
 *   if (err instanceof OutputError) console.error(err.code); // "E_OUTPUT_OPTION"
 * }
 * ```
 */
export class OutputError extends Error {
  override readonly name = 'OutputError';
  constructor(
    readonly code: OutputErrorCode,
    message: string,
  ) {
    super(message);
  }
}
