/**
 * Session files: a JSON description of one generation (model, seed, blocks, prompt, lanes)
 * that the CLI runs. They come from users, so every field is checked and every error names
 * the file, the field and what was expected.
 *
 * To add a field, add it to {@link SESSION_FIELDS} with its expectation; checks that relate
 * fields to each other go after the schema (see `timelineIssues`).
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
  /**
   * Prompt switches by block, from the file's `timeline` (entries with a `prompt`), in block
   * order.
   */
  readonly switches?: readonly { readonly atBlock: number; readonly prompt: string }[];
  /** The block at which a `timeline` entry `{ "atBlock": k, "stop": true }` ends the video. */
  readonly stopAtBlock?: number;
}

/**
 * One entry of a session file's `timeline`: at block `atBlock`, switch to `prompt`, or `stop`.
 *
 * @example
 * ```json
 * "timeline": [{ "atBlock": 4, "prompt": "blue ball moving up" }, { "atBlock": 8, "stop": true }]
 * ```
 */
export interface TimelineEntry {
  readonly atBlock: number;
  readonly prompt?: string;
  readonly stop?: true;
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
  timeline: field(Schema.Array(Schema.Unknown), 'an array of { "atBlock": k, "prompt": "…" } or { "atBlock": k, "stop": true }'),
} as const;

/** The fields of a timeline entry, with what each must be. */
const TIMELINE_FIELDS = {
  atBlock: field(PositiveInt, 'a positive integer (the block the event applies to; block 0 takes "prompt")'),
  prompt: field(NonEmpty, 'a non-empty string'),
  stop: field(Schema.Literal(true), 'true'),
} as const;

const TimelineEntrySchema = Schema.Struct({
  atBlock: TIMELINE_FIELDS.atBlock.schema,
  prompt: Schema.optionalWith(TIMELINE_FIELDS.prompt.schema, { exact: true }),
  stop: Schema.optionalWith(TIMELINE_FIELDS.stop.schema, { exact: true }),
});

const SessionSchema = Schema.Struct({
  model: Schema.optionalWith(SESSION_FIELDS.model.schema, { exact: true }),
  seed: SESSION_FIELDS.seed.schema,
  blocks: SESSION_FIELDS.blocks.schema,
  prompt: SESSION_FIELDS.prompt.schema,
  lanes: Schema.optionalWith(SESSION_FIELDS.lanes.schema, { exact: true }),
  parallelism: Schema.optionalWith(SESSION_FIELDS.parallelism.schema, { exact: true }),
  attention: Schema.optionalWith(SESSION_FIELDS.attention.schema, { exact: true }),
  exec: Schema.optionalWith(SESSION_FIELDS.exec.schema, { exact: true }),
  // No message on the array itself: it would hide the entries' own messages (a non-array is
  // reported before decoding, in decodeSessionFile).
  timeline: Schema.optionalWith(Schema.Array(TimelineEntrySchema), { exact: true }),
});

const KNOWN_KEYS = Object.keys(SESSION_FIELDS).join(', ');

function expectedFor(path: readonly PropertyKey[]): string {
  const top = path[0];
  const known = typeof top === 'string' && Object.hasOwn(SESSION_FIELDS, top) ? SESSION_FIELDS[top as keyof typeof SESSION_FIELDS] : undefined;
  if (path.length === 1 && known) return `expected ${known.expected}`;
  const leaf = path[2];
  if (top === 'timeline' && path.length === 3 && typeof leaf === 'string' && Object.hasOwn(TIMELINE_FIELDS, leaf)) {
    return `expected ${TIMELINE_FIELDS[leaf as keyof typeof TIMELINE_FIELDS].expected}`;
  }
  return 'a value is required';
}

function schemaIssues(file: string, json: unknown, error: ParseResult.ParseError): SessionFileIssue[] {
  return ParseResult.ArrayFormatter.formatErrorSync(error).map((i): SessionFileIssue => {
    const name = i.path.map(String).join('.');
    let text: string;
    if (i._tag === 'Missing') text = `is missing (${expectedFor(i.path)})`;
    else if (i._tag === 'Unexpected') {
      text = i.path[0] === 'timeline' ? 'is not a timeline field (known fields: atBlock, prompt, stop)' : `is not a session field (known fields: ${KNOWN_KEYS})`;
    }
    else text = `${i.message}, got ${show(valueAt(json, i.path))}`;
    return name === '' ? { message: `${file}: ${text}` } : { field: name, message: `${file}: field "${name}": ${text}` };
  });
}

/** Checks between fields that a schema cannot express: the timeline against itself and `blocks`. */
function timelineIssues(file: string, blocks: number, timeline: readonly TimelineEntry[]): SessionFileIssue[] {
  const issues: SessionFileIssue[] = [];
  const bad = (field: string, text: string) => issues.push({ field, message: `${file}: field "${field}": ${text}` });
  timeline.forEach((entry, i) => {
    const at = `timeline.${i}`;
    if ((entry.prompt === undefined) === (entry.stop === undefined)) bad(at, 'needs exactly one of "prompt" or "stop"');
    if (entry.atBlock >= blocks) bad(`${at}.atBlock`, `block ${entry.atBlock} is not inside the video's ${blocks} blocks (0..${blocks - 1})`);
    const before = timeline[i - 1];
    if (before && entry.atBlock <= before.atBlock) bad(`${at}.atBlock`, `must be after the entry before it (block ${before.atBlock}), got ${entry.atBlock}`);
    if (entry.stop && i !== timeline.length - 1) bad(at, 'a stop must be the last entry');
  });
  return issues;
}

/** Turns a checked timeline into prompt switches and a stop. */
function fromTimeline(timeline: readonly TimelineEntry[]): Pick<SessionFile, 'switches' | 'stopAtBlock'> {
  const switches = timeline.flatMap((e) => (e.prompt === undefined ? [] : [{ atBlock: e.atBlock, prompt: e.prompt }]));
  const stop = timeline.find((e) => e.stop);
  return { ...(switches.length > 0 ? { switches } : {}), ...(stop ? { stopAtBlock: stop.atBlock } : {}) };
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
  const rawTimeline: unknown = (json as Record<string, unknown>).timeline;
  if (rawTimeline !== undefined && !Array.isArray(rawTimeline)) {
    throw new SessionFileError('E_SESSION_INVALID', file, [
      { field: 'timeline', message: `${file}: field "timeline": expected ${SESSION_FIELDS.timeline.expected}, got ${show(rawTimeline)}` },
    ]);
  }
  const decoded = Schema.decodeUnknownEither(SessionSchema, { errors: 'all', onExcessProperty: 'error' })(json);
  if (Either.isLeft(decoded)) {
    throw new SessionFileError('E_SESSION_INVALID', file, nonEmpty(schemaIssues(file, json, decoded.left), file));
  }
  const { model, timeline, ...rest } = decoded.right;
  const issues = timeline === undefined ? [] : timelineIssues(file, rest.blocks, timeline);
  if (issues.length > 0) throw new SessionFileError('E_SESSION_INVALID', file, nonEmpty(issues, file));
  return {
    ...rest,
    ...(model === undefined ? {} : { model: resolve(dirname(file), model) }),
    ...(timeline === undefined ? {} : fromTimeline(timeline)),
  };
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
