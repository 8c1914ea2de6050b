/**
 * Errors of the msgpack codec. Decoding errors carry *where* the input went wrong (a field
 * path or a byte range) so that a bad frame from another process can be diagnosed from the log
 * line alone; encoding errors are programming errors (a tensor whose shape does not match its
 * data) and say which tensor.
 */

/**
 * A message or tensor frame that cannot be decoded: bad magic, truncated, a descriptor out of
 * bounds, an unknown dtype, a shape that does not match the byte length, a misaligned tensor.
 *
 * @example
 * ```ts
 * try {
 *   decodeTensorFrame(bytes);
 * } catch (error) {
 *   if (error instanceof CorruptMessageError) console.error(error.where, error.message);
 * }
 * ```
 */
export class CorruptMessageError extends Error {
  readonly code = 'CORRUPT_MESSAGE';
  /**
   * @param where the field path or byte range that is wrong, e.g. `tensor frame: tensors[1].dtype`
   * @param problem what is wrong there
   */
  constructor(
    readonly where: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${where}: ${problem}`, options);
    this.name = 'CorruptMessageError';
  }
}

/**
 * A tensor handed to an encoder whose data does not match its declared shape or dtype.
 *
 * @example
 * ```ts
 * encodeTensorFrame({}, { x: { shape: [2, 2], data: new Float32Array(5) } }); // throws TensorShapeError
 * ```
 */
export class TensorShapeError extends RangeError {
  readonly code = 'TENSOR_SHAPE';
  constructor(
    readonly tensor: string,
    problem: string,
  ) {
    super(`tensor "${tensor}": ${problem}`);
    this.name = 'TensorShapeError';
  }
}
