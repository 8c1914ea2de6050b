/**
 * Typed errors of the embed service. An `HttpError` carries the status, a stable code for
 * programs and (for a bad request body) the field at fault, so a client can tell what to fix
 * without parsing prose.
 */

/** A request the service refuses, sent as `{ "error": { "code", "message", "field"? } }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The request body field at fault (`""` for the body itself), when one is. */
    readonly field?: string,
    /** Extra response headers (`Allow` for a 405, `Retry-After` for a 503). */
    readonly headers: Readonly<Record<string, string>> = {},
    /** Extra fields of the error body, for programs (`unknownWords` and `vocabulary` of a refused prompt). */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  /** The JSON body of the error response. */
  toBody(): { error: { code: string; message: string; field?: string } } {
    return { error: { ...this.details, code: this.code, message: this.message, ...(this.field === undefined ? {} : { field: this.field }) } };
  }
}

/** A `startService` option or a command-line flag is invalid; names it and what was expected. */
export class ServiceOptionError extends TypeError {
  readonly code = 'INVALID_SERVICE_OPTION';
  constructor(readonly option: string, expected: string, got: unknown) {
    super(`option "${option}": expected ${expected}, got ${JSON.stringify(got)}`);
    this.name = 'ServiceOptionError';
  }
}
