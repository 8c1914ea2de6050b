/** Errors of the inspector: a bad trace file, and a server that cannot start. */

/**
 * A trace file (JSONL) that cannot be read as a trace. The message names the file and the
 * 1-based line, so the CLI can print it as is.
 */
export class TraceFileError extends Error {
  override readonly name = 'TraceFileError';
  /** The file as given (or a label such as `<stdin>`). */
  readonly file: string;
  /** 1-based line number, or 0 when the fault is the file as a whole (unreadable, empty). */
  readonly line: number;
  /** What is wrong with that line, without the location. */
  readonly reason: string;

  constructor(file: string, line: number, reason: string, options?: ErrorOptions) {
    super(line === 0 ? `${file}: ${reason}` : `${file}:${line}: ${reason}`, options);
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

/** The inspector's HTTP server could not start (port taken, bad port). */
export class InspectorServerError extends Error {
  override readonly name = 'InspectorServerError';
}
