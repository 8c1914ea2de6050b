/**
 * Session files: a JSON description of one generation (model, seed, blocks, prompt, lanes)
 * that the CLI runs. They come from users, so every field is checked and every error names
 * the file, the field and what was expected.
 *
 * To add a field (e.g. the coming timeline of prompt switches), add it to
 * {@link SESSION_FIELDS} with its expectation, and put checks that relate fields to each
 * other in `relationIssues`.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Either, ParseResult, Schema } from 'effect';
import { show, valueAt } from './json-value.js';

/** A decoded session file. */
export interface SessionFile {
  /**
   * Model package folder, already resolved against the session file's folder; absent when the
   * file names none (the runtime then uses the bundled default model).
   */
  readonly model?: string;
  /** Noise seed, a non-negative safe integer. */
  readonly seed: number;
  /** Number of blocks to generate, a positive integer. */
  readonly blocks: number;
  /** Text prompt, not empty. */
  readonly prompt: string;
  /** Number of CPU lanes, a positive integer. */
  readonly lanes?: number;
  /** Block Cascading level P, 0 (sequential) to 4. */
  readonly parallelism?: 0 | 1 | 2 | 3 | 4;
  /** Attention inside the cascade window. */
  readonly attention?: 'causal' | 'bidirectional';
  /** How a tick's forwards run. */
  readonly exec?: 'joint' | 'lanes';
}

/** Codes of {@link SessionFileError}. */
export type SessionFileErrorCode =
  /** The file could not be read. */
  | 'E_SESSION_UNREADABLE'
  /** The file is not valid JSON. */
  | 'E_SESSION_JSON'
  /** The file is JSON but not a valid session. */
  | 'E_SESSION_INVALID';

/** One problem in a session file. */
export interface SessionFileIssue {
  /** Dotted field path (`blocks`, later `timeline.2.prompt`); absent when the whole file is wrong. */
  readonly field?: string;
  /** Full sentence, already prefixed with the file and the field. */
  readonly message: string;
}

/**
 * A session file is unreadable, not JSON, or not a valid session.
 *
 * `field` is the first bad field; `issues` lists every problem found (the message joins them,
 * one per line).
 *
 * @example
 * ```ts
 * try {
 *   await loadSessionFile('examples/sessions/x.json');
 * } catch (err) {
 *   if (err instanceof SessionFileError) console.error(err.field); // "blocks"
 * }
 * ```
 */
export class SessionFileError extends Error {
  override readonly name = 'SessionFileError';
  readonly code: SessionFileErrorCode;
  /** The session file, as given by the caller. */
  readonly file: string;
  readonly field: string | undefined;
  readonly issues: readonly SessionFileIssue[];

  constructor(code: SessionFileErrorCode, file: string, issues: readonly [SessionFileIssue, ...SessionFileIssue[]], options?: ErrorOptions) {
    super(issues.map((i) => i.message).join('\n'), options);
    this.code = code;
    this.file = file;
    this.field = issues[0].field;
    this.issues = issues;
  }
}

const expect = (message: string) => ({ message: () => ({ message, override: true }) });

/** A schema together with the sentence used when its value is wrong or missing. */
interface Field<S extends Schema.Schema.Any> {
  readonly schema: S;
  readonly expected: string;
}
const field = <S extends Schema.Schema.Any>(schema: S, expected: string): Field<S> => ({
  schema: schema.annotations(expect(`expected ${expected}`)) as unknown as S,
  expected,
});

const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive());
const Seed = Schema.Number.pipe(Schema.filter((n) => Number.isSafeInteger(n) && n >= 0));
const NonEmpty = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0));

/**
 * Every field a session file may hold, with what it must be. Required fields are plain
 * schemas, optional ones are wrapped in `Schema.optionalWith(…, { exact: true })` when the struct is built.
 */
export const SESSION_FIELDS = {
  model: field(NonEmpty, 'a model folder path (a non-empty string, relative to the session file)'),
  seed: field(Seed, 'a non-negative integer'),
  blocks: field(PositiveInt, 'a positive integer'),
  prompt: field(NonEmpty, 'a non-empty string'),
  lanes: field(PositiveInt, 'a positive integer'),
  parallelism: field(Schema.Literal(0, 1, 2, 3, 4), 'a parallelism level 0, 1, 2, 3 or 4'),
  attention: field(Schema.Literal('causal', 'bidirectional'), '"causal" or "bidirectional"'),
  exec: field(Schema.Literal('joint', 'lanes'), '"joint" or "lanes"'),
} as const;

const SessionSchema = Schema.Struct({
  model: Schema.optionalWith(SESSION_FIELDS.model.schema, { exact: true }),
  seed: SESSION_FIELDS.seed.schema,
  blocks: SESSION_FIELDS.blocks.schema,
  prompt: SESSION_FIELDS.prompt.schema,
  lanes: Schema.optionalWith(SESSION_FIELDS.lanes.schema, { exact: true }),
  parallelism: Schema.optionalWith(SESSION_FIELDS.parallelism.schema, { exact: true }),
  attention: Schema.optionalWith(SESSION_FIELDS.attention.schema, { exact: true }),
  exec: Schema.optionalWith(SESSION_FIELDS.exec.schema, { exact: true }),
});

const KNOWN_KEYS = Object.keys(SESSION_FIELDS).join(', ');

function expectedFor(path: readonly PropertyKey[]): string {
  const top = path[0];
  const known = typeof top === 'string' && Object.hasOwn(SESSION_FIELDS, top) ? SESSION_FIELDS[top as keyof typeof SESSION_FIELDS] : undefined;
  return path.length === 1 && known ? `expected ${known.expected}` : 'a value is required';
}

function schemaIssues(file: string, json: unknown, error: ParseResult.ParseError): SessionFileIssue[] {
  return ParseResult.ArrayFormatter.formatErrorSync(error).map((i): SessionFileIssue => {
    const name = i.path.map(String).join('.');
    let text: string;
    if (i._tag === 'Missing') text = `is missing (${expectedFor(i.path)})`;
    else if (i._tag === 'Unexpected') text = `is not a session field (known fields: ${KNOWN_KEYS})`;
    else text = `${i.message}, got ${show(valueAt(json, i.path))}`;
    return name === '' ? { message: `${file}: ${text}` } : { field: name, message: `${file}: field "${name}": ${text}` };
  });
}

/** Checks between fields that a schema cannot express; none yet (a timeline will need them). */
function relationIssues(_file: string, _session: SessionFile): SessionFileIssue[] {
  return [];
}

function nonEmpty(issues: SessionFileIssue[], file: string): [SessionFileIssue, ...SessionFileIssue[]] {
  const [first, ...rest] = issues;
  return first === undefined ? [{ message: `${file}: invalid session file` }] : [first, ...rest];
}

/**
 * Decodes parsed JSON into a session, rejecting unknown keys. A relative `model` is resolved
 * against the folder of `file`.
 *
 * @param json - The parsed, untrusted content of the session file.
 * @param file - Path of the session file, for error messages and to resolve `model`.
 * @throws {SessionFileError} `E_SESSION_INVALID`, one issue per bad field, e.g.
 *   `examples/sessions/x.json: field "blocks": expected a positive integer, got -2`.
 *
 * @example
 * ```ts
 * const session = decodeSessionFile({ seed: 7, blocks: 8, prompt: 'red ball moving left' }, 'inline.json');
 * ```
 */
export function decodeSessionFile(json: unknown, file: string): SessionFile {
  // Checked here rather than with a struct-level message: that message would override every
  // field's own message.
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new SessionFileError('E_SESSION_INVALID', file, [{ message: `${file}: expected a JSON object, got ${show(json)}` }]);
  }
  const decoded = Schema.decodeUnknownEither(SessionSchema, { errors: 'all', onExcessProperty: 'error' })(json);
  if (Either.isLeft(decoded)) {
    throw new SessionFileError('E_SESSION_INVALID', file, nonEmpty(schemaIssues(file, json, decoded.left), file));
  }
  const { model, ...rest } = decoded.right;
  const session: SessionFile = model === undefined ? rest : { ...rest, model: resolve(dirname(file), model) };
  const issues = relationIssues(file, session);
  if (issues.length > 0) throw new SessionFileError('E_SESSION_INVALID', file, nonEmpty(issues, file));
  return session;
}

/** Line and column (1-based) of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    // V8 reports "... in JSON at position N" (or "Unexpected end of JSON input"): turn the
    // offset into a line and column an editor can jump to.
    const position = /at position (\d+)/.exec(reason)?.[1];
    const offset = position === undefined ? text.length : Number(position);
    const { line, column } = lineColumn(text, offset);
    const detail = reason.replace(/ in JSON at position \d+.*$/s, '');
    throw new SessionFileError(
      'E_SESSION_JSON',
      file,
      [{ message: `${file}: invalid JSON at line ${line}, column ${column} (position ${offset}): ${detail}` }],
      { cause: err },
    );
  }
}

/**
 * Reads and decodes a session file.
 *
 * @param path - The session file; relative paths are relative to the working directory.
 * @throws {SessionFileError} `E_SESSION_UNREADABLE` if it cannot be read, `E_SESSION_JSON`
 *   (with line and column) if it is not JSON, `E_SESSION_INVALID` if a field is wrong, missing
 *   or unknown.
 *
 * @example
 * ```ts
 * const session = await loadSessionFile('examples/sessions/sprite.json');
 * // { seed: 7, blocks: 8, prompt: 'red ball moving left' }
 * ```
 */
export async function loadSessionFile(path: string): Promise<SessionFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SessionFileError('E_SESSION_UNREADABLE', path, [{ message: `${path}: cannot read session file: ${reason}` }], { cause: err });
  }
  return decodeSessionFile(parseJson(text, path), path);
}
