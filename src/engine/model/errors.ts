/**
 * Errors of the model package loader.
 *
 * One class per failure family, each with a stable `code` and the structured fields a caller
 * needs to react without parsing the message. The message itself always names the file and,
 * where there is one, the field, input or output that is wrong.
 */

/** Codes of {@link ModelPackageError}. */
export type ModelPackageErrorCode =
  /** `model.json` could not be read or is not JSON. */
  | 'E_MODEL_MANIFEST_UNREADABLE'
  /** `model.json` is JSON but does not describe a valid model. */
  | 'E_MODEL_MANIFEST_INVALID'
  /** A file named by the manifest does not exist. */
  | 'E_MODEL_FILE_MISSING'
  /** An ONNX file could not be opened by ONNX Runtime. */
  | 'E_MODEL_GRAPH_UNREADABLE'
  /** An ONNX file's inputs or outputs disagree with the contract derived from the manifest. */
  | 'E_MODEL_GRAPH_MISMATCH';

/** One problem found in a model package; an error may carry several. */
export interface ModelPackageIssue {
  /** The file that is wrong (as given, i.e. relative when the package folder was relative). */
  readonly file: string;
  /** Dotted manifest field path (`latent.channels`), or the ONNX input/output name; absent when the whole file is wrong. */
  readonly field?: string;
  /** Human-readable description, already prefixed with file and field. */
  readonly message: string;
}

/**
 * A model package (a folder with `model.json` and ONNX files) is unusable.
 *
 * `file` and `field` describe the first issue; `issues` lists all of them (the message joins
 * them, one per line).
 *
 * @example
 * ```ts
 * try {
 *   await loadModelPackage('models/random');
 * } catch (err) {
 *   if (err instanceof ModelPackageError && err.code === 'E_MODEL_FILE_MISSING') console.error(err.file);
 * }
 * ```
 */
export class ModelPackageError extends Error {
  override readonly name = 'ModelPackageError';
  readonly code: ModelPackageErrorCode;
  readonly file: string;
  readonly field: string | undefined;
  readonly issues: readonly ModelPackageIssue[];

  constructor(code: ModelPackageErrorCode, issues: readonly [ModelPackageIssue, ...ModelPackageIssue[]], options?: ErrorOptions) {
    super(issues.map((issue) => issue.message).join('\n'), options);
    this.code = code;
    this.file = issues[0].file;
    this.field = issues[0].field;
    this.issues = issues;
  }
}

/**
 * Builds a {@link ModelPackageError} with one issue; `message` is the text after the file
 * name (the file is prefixed here).
 * @internal
 */
export function modelPackageError(
  code: ModelPackageErrorCode,
  file: string,
  field: string | undefined,
  message: string,
  options?: ErrorOptions,
): ModelPackageError {
  return new ModelPackageError(code, [issue(file, field, message)], options);
}

/** @internal */
export function issue(file: string, field: string | undefined, message: string): ModelPackageIssue {
  return field === undefined ? { file, message: `${file}: ${message}` } : { file, field, message: `${file}: ${message}` };
}
