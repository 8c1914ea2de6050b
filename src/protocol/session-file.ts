/**
 * Session files: a JSON description of one generation (model, seed, blocks, prompt, lanes)
 * that the CLI runs. They come from users, so every field is checked and every error names
 * the file, the field and what was expected.
 *
 * To add a field, add it to `SESSION_FIELDS` (in `buildSchemas`) with its expectation; checks
 * that relate fields to each other go after the schema (see `timelineIssues`). The schemas are
 * built on the first decode, with Effect (`effect-schema.ts`): importing this module loads none.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type * as JSONSchemaTypes from 'effect/JSONSchema';
import type * as ParseResultTypes from 'effect/ParseResult';
import type * as SchemaTypes from 'effect/Schema';
import { effectSchema } from './effect-schema.js';
import { show, valueAt } from './json-value.js';

/** Frame rate of a video whose session file and command line give none. */
export const DEFAULT_FPS = 16;

/** Largest session file read (bytes). */
export const MAX_SESSION_FILE_BYTES = 1 << 20;

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
  /*
   * Generation settings: typed here, checked with every other source's by the options resolver
   * (`resolveSettings`), which `planSession` runs with this file's name in its messages.
   */
  /** Block Cascading level P, 0 (sequential) to 4. */
  readonly parallelism?: number;
  /** Attention inside the cascade window: `causal` or `bidirectional`. */
  readonly attention?: string;
  /** How a tick's forwards run: a registered execution mode (`joint`, `lanes`). */
  readonly exec?: string;
  /** Re-cache at prompt switches in sequential mode (P0 only): `on` or `off`. */
  readonly recache?: string;
  /** Which blocks a prompt switch reaches in a cascade: `at-block` (default) or `in-flight`. */
  readonly switchMode?: string;
  /** What earlier video a cascade block sees: `extended` (default) or `trained` (docs/cascading.md). */
  readonly cascadeWindow?: string;
  /** Denoising steps per block (default: the model's sampler). */
  readonly steps?: number;
  /** Block-wise feature caching: `{ "policy": "bwcache", "threshold": 0.15, "interval": 3, "lastStep": 0.5 }` (docs/caching.md). */
  readonly featureCache?: { readonly policy?: string; readonly threshold?: number; readonly interval?: number; readonly lastStep?: number; readonly coefficients?: readonly number[] };
  /** Frame rate of the video (GIF playback and the clock of `atSecond` entries). */
  readonly fps?: number;
  /**
   * Prompt switches and a stop, checked against each other where they are given by block;
   * {@link resolveTimeline} turns entries given by time into blocks.
   */
  readonly timeline?: readonly TimelineEntry[];
}

/**
 * One entry of a session file's `timeline`: at block `atBlock` or at second `atSecond` of the
 * video, switch to `prompt`, or `stop`.
 *
 * @example
 * ```json
 * "timeline": [{ "atBlock": 4, "prompt": "blue ball moving up" }, { "atSecond": 2.5, "stop": true }]
 * ```
 */
export interface TimelineEntry {
  readonly atBlock?: number;
  /** Seconds into the video: the event applies from the first block that starts at or after it. */
  readonly atSecond?: number;
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

/** A schema together with the sentence used when its value is wrong or missing. */
interface Field<S extends SchemaTypes.Schema.Any> {
  readonly schema: S;
  readonly expected: string;
}
/** The session schema and the fields it is made of, built by the first call. */
function buildSchemas() {
  const { Schema } = effectSchema();
  const expect = (message: string) => ({ message: () => ({ message, override: true }) });

  const field = <S extends SchemaTypes.Schema.Any>(schema: S, expected: string): Field<S> => ({
    // The description is what editors show from the JSON Schema (schemas/session.schema.json).
    schema: schema.annotations({ ...expect(`expected ${expected}`), description: expected }) as unknown as S,
    expected,
  });

  const PositiveInt = Schema.Number.pipe(Schema.int(), Schema.positive());
  // The JSON Schema annotations say what the filters check, for sessionJsonSchema().
  const Seed = Schema.Number.pipe(Schema.filter((n) => Number.isSafeInteger(n) && n >= 0, { jsonSchema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'a non-negative integer' } }));
  const NonEmpty = Schema.String.pipe(Schema.filter((s) => s.trim().length > 0, { jsonSchema: { pattern: '\\S' } }));

  /** `$schema`: where an editor finds the file's JSON Schema; the runtime ignores it. */
  const SCHEMA_REF = field(Schema.String, 'the path or URL of this file\'s JSON Schema (e.g. "../../schemas/session.schema.json"); ignored when the session runs');

  /**
   * Every field a session file may hold, with what it must be. Required fields are plain
   * schemas, optional ones are wrapped in `Schema.optionalWith(…, { exact: true })` when the struct is built.
   */
  const SESSION_FIELDS = {
    model: field(NonEmpty, 'a model folder path (a non-empty string, relative to the session file)'),
    seed: field(Seed, 'a non-negative integer'),
    blocks: field(PositiveInt, 'a positive integer'),
    prompt: field(NonEmpty, 'a non-empty string'),
    lanes: field(PositiveInt, 'a positive integer'),
    // Only their types here: what values they may take is the options resolver's to say.
    parallelism: field(Schema.Number, 'a parallelism level 0, 1, 2, 3 or 4'),
    attention: field(Schema.String, '"causal" or "bidirectional"'),
    exec: field(Schema.String, 'an execution mode ("joint", "lanes")'),
    recache: field(Schema.String, '"on" or "off" (re-cache at prompt switches; sequential mode only)'),
    switchMode: field(Schema.String, '"at-block" or "in-flight" (which blocks a prompt switch reaches in a cascade)'),
    cascadeWindow: field(Schema.String, '"extended" or "trained" (what earlier video a cascade block sees)'),
    steps: field(Schema.Number, 'a number of denoising steps per block'),
    featureCache: field(Schema.Object, 'an object { "policy": "none" | "bwcache" | "teacache" | "fbcache", "threshold"?, "interval"?, "lastStep"?, "coefficients"? }'),
    // At most 100: a GIF's frame delay is counted in hundredths of a second (the GIF writer's limit).
    fps: field(Schema.Number.pipe(Schema.positive(), Schema.lessThanOrEqualTo(100)), 'a number of frames per second in (0, 100]'),
    timeline: field(Schema.Array(Schema.Unknown), 'an array of { "atBlock": k, "prompt": "…" }, { "atSecond": t, "prompt": "…" } or { "atBlock": k, "stop": true }'),
  } as const;

  /** The fields of `featureCache`, typed only: the options resolver checks their values. */
  const FEATURE_CACHE_FIELDS = {
    policy: field(Schema.String, '"none", "bwcache", "teacache" or "fbcache"'),
    threshold: field(Schema.Number, 'a number (δ)'),
    interval: field(Schema.Number, 'a number of steps (R)'),
    lastStep: field(Schema.Number, 'a number (the protected tail)'),
    coefficients: field(Schema.Array(Schema.Number), 'an array of numbers (the teacache polynomial)'),
  } as const;

  /**
   * A container's message applies only when the container itself is wrong (not an object), keeping
   * its fields' own messages. Without one, Effect's default message prints the value whole, which
   * overflows the stack on untrusted input nested 100,000 deep.
   */
  const expectContainer = (message: string) => ({ message: () => message });

  const FeatureCacheSchema = Schema.Struct({
    policy: Schema.optionalWith(FEATURE_CACHE_FIELDS.policy.schema, { exact: true }),
    threshold: Schema.optionalWith(FEATURE_CACHE_FIELDS.threshold.schema, { exact: true }),
    interval: Schema.optionalWith(FEATURE_CACHE_FIELDS.interval.schema, { exact: true }),
    lastStep: Schema.optionalWith(FEATURE_CACHE_FIELDS.lastStep.schema, { exact: true }),
    coefficients: Schema.optionalWith(FEATURE_CACHE_FIELDS.coefficients.schema, { exact: true }),
  }).annotations(expectContainer(`expected ${SESSION_FIELDS.featureCache.expected}`));

  /** The fields of a timeline entry, with what each must be. */
  const TIMELINE_FIELDS = {
    atBlock: field(PositiveInt, 'a positive integer (the block the event applies to; block 0 takes "prompt")'),
    atSecond: field(Schema.Number.pipe(Schema.positive(), Schema.filter(Number.isFinite)), 'a positive number of seconds into the video'),
    prompt: field(NonEmpty, 'a non-empty string'),
    stop: field(Schema.Literal(true), 'true'),
  } as const;

  const TimelineEntrySchema = Schema.Struct({
    atBlock: Schema.optionalWith(TIMELINE_FIELDS.atBlock.schema, { exact: true }),
    atSecond: Schema.optionalWith(TIMELINE_FIELDS.atSecond.schema, { exact: true }),
    prompt: Schema.optionalWith(TIMELINE_FIELDS.prompt.schema, { exact: true }),
    stop: Schema.optionalWith(TIMELINE_FIELDS.stop.schema, { exact: true }),
  }).annotations(expectContainer('expected an object { "atBlock": k, "prompt": "…" }, { "atSecond": t, "prompt": "…" } or { "atBlock": k, "stop": true }'));

  const SessionSchema = Schema.Struct({
    $schema: Schema.optionalWith(SCHEMA_REF.schema, { exact: true }),
    model: Schema.optionalWith(SESSION_FIELDS.model.schema, { exact: true }),
    seed: SESSION_FIELDS.seed.schema,
    blocks: SESSION_FIELDS.blocks.schema,
    prompt: SESSION_FIELDS.prompt.schema,
    lanes: Schema.optionalWith(SESSION_FIELDS.lanes.schema, { exact: true }),
    parallelism: Schema.optionalWith(SESSION_FIELDS.parallelism.schema, { exact: true }),
    attention: Schema.optionalWith(SESSION_FIELDS.attention.schema, { exact: true }),
    exec: Schema.optionalWith(SESSION_FIELDS.exec.schema, { exact: true }),
    recache: Schema.optionalWith(SESSION_FIELDS.recache.schema, { exact: true }),
    switchMode: Schema.optionalWith(SESSION_FIELDS.switchMode.schema, { exact: true }),
    cascadeWindow: Schema.optionalWith(SESSION_FIELDS.cascadeWindow.schema, { exact: true }),
    steps: Schema.optionalWith(SESSION_FIELDS.steps.schema, { exact: true }),
    featureCache: Schema.optionalWith(FeatureCacheSchema, { exact: true }),
    fps: Schema.optionalWith(SESSION_FIELDS.fps.schema, { exact: true }),
    // No message on the array itself: it would hide the entries' own messages (a non-array is
    // reported before decoding, in decodeSessionFile).
    timeline: Schema.optionalWith(Schema.Array(TimelineEntrySchema), { exact: true }),
  }).annotations({
    title: 'block-cascade session file',
    description: 'One generation for `block-cascade run`: model, seed, blocks, prompt, lanes, settings and a timeline of prompt switches (docs/interactive.md).',
  });

  return { SESSION_FIELDS, FEATURE_CACHE_FIELDS, TIMELINE_FIELDS, SessionSchema, knownKeys: Object.keys(SESSION_FIELDS).join(', ') };
}

let schemas: ReturnType<typeof buildSchemas> | undefined;
const sessionSchemas = () => (schemas ??= buildSchemas());

/**
 * Every field a session file may hold, with the sentence that says what it must be (the same in
 * error messages and in the JSON Schema's descriptions).
 *
 * @example
 * ```ts
 * Object.keys(sessionFields()); // ['model', 'seed', 'blocks', 'prompt', …]
 * sessionFields().blocks.expected; // 'a positive integer'
 * ```
 */
export function sessionFields(): ReturnType<typeof buildSchemas>['SESSION_FIELDS'] {
  return sessionSchemas().SESSION_FIELDS;
}

/**
 * The JSON Schema (draft-07) of session files, generated from the schema that decodes them;
 * shipped as `schemas/session.schema.json` (`npm run schema` writes it). It checks each field's
 * type and range; the checks between fields (the timeline's order, one of `atBlock` or
 * `atSecond`) and the settings' allowed values are the decoder's and the options resolver's.
 *
 * @example
 * ```ts
 * writeFileSync('schemas/session.schema.json', `${JSON.stringify(sessionJsonSchema(), null, 2)}\n`);
 * ```
 */
export function sessionJsonSchema(): JSONSchemaTypes.JsonSchema7Root {
  return effectSchema().JSONSchema.make(sessionSchemas().SessionSchema);
}

function expectedFor(path: readonly PropertyKey[]): string {
  const { SESSION_FIELDS, FEATURE_CACHE_FIELDS, TIMELINE_FIELDS } = sessionSchemas();
  const top = path[0];
  const known = typeof top === 'string' && Object.hasOwn(SESSION_FIELDS, top) ? SESSION_FIELDS[top as keyof typeof SESSION_FIELDS] : undefined;
  if (path.length === 1 && known) return `expected ${known.expected}`;
  if (top === 'featureCache' && path.length === 2 && typeof path[1] === 'string' && Object.hasOwn(FEATURE_CACHE_FIELDS, path[1])) {
    return `expected ${FEATURE_CACHE_FIELDS[path[1] as keyof typeof FEATURE_CACHE_FIELDS].expected}`;
  }
  const leaf = path[2];
  if (top === 'timeline' && path.length === 3 && typeof leaf === 'string' && Object.hasOwn(TIMELINE_FIELDS, leaf)) {
    return `expected ${TIMELINE_FIELDS[leaf as keyof typeof TIMELINE_FIELDS].expected}`;
  }
  return 'a value is required';
}

function schemaIssues(file: string, json: unknown, error: ParseResultTypes.ParseError): SessionFileIssue[] {
  const { FEATURE_CACHE_FIELDS, TIMELINE_FIELDS, knownKeys } = sessionSchemas();
  return effectSchema().ParseResult.ArrayFormatter.formatErrorSync(error).map((i): SessionFileIssue => {
    const name = i.path.map(String).join('.');
    let text: string;
    if (i._tag === 'Missing') text = `is missing (${expectedFor(i.path)})`;
    else if (i._tag === 'Unexpected') {
      text = i.path[0] === 'timeline'
        ? `is not a timeline field (known fields: ${Object.keys(TIMELINE_FIELDS).join(', ')})`
        : i.path[0] === 'featureCache'
          ? `is not a featureCache field (known fields: ${Object.keys(FEATURE_CACHE_FIELDS).join(', ')})`
          : `is not a session field (known fields: ${knownKeys})`;
    }
    else text = `${i.message}, got ${show(valueAt(json, i.path))}`;
    return name === '' ? { message: `${file}: ${text}` } : { field: name, message: `${file}: field "${name}": ${text}` };
  });
}

/**
 * Checks between fields that a schema cannot express: the timeline against itself and `blocks`.
 * `blockOf` gives each entry's block; entries it cannot place yet (times, before the model's
 * block length is known) are only checked for their shape.
 */
function timelineIssues(file: string, blocks: number, timeline: readonly TimelineEntry[], blockOf: (e: TimelineEntry) => number | undefined): SessionFileIssue[] {
  const issues: SessionFileIssue[] = [];
  const bad = (field: string, text: string) => issues.push({ field, message: `${file}: field "${field}": ${text}` });
  let before: { block: number; i: number } | undefined;
  timeline.forEach((entry, i) => {
    const at = `timeline.${i}`;
    if ((entry.prompt === undefined) === (entry.stop === undefined)) bad(at, 'needs exactly one of "prompt" or "stop"');
    if ((entry.atBlock === undefined) === (entry.atSecond === undefined)) bad(at, 'needs exactly one of "atBlock" or "atSecond"');
    if (entry.stop && i !== timeline.length - 1) bad(at, 'a stop must be the last entry');
    const block = blockOf(entry);
    if (block === undefined) return;
    const key = entry.atBlock === undefined ? `${at}.atSecond` : `${at}.atBlock`;
    const what = entry.atBlock === undefined ? `${entry.atSecond} s is block ${block}, which` : `block ${block}`;
    if (block < 1) bad(key, `${what} is the first block: give the first prompt as "prompt"`);
    else if (block >= blocks) bad(key, `${what} is not inside the video's ${blocks} blocks (0..${blocks - 1})`);
    if (before && block <= before.block) bad(key, `${what} must be after the entry before it (block ${before.block})`);
    before = { block, i };
  });
  return issues;
}


/** How time maps to blocks: video frames per block and the video's frame rate. */
export interface TimelineClock {
  readonly framesPerBlock: number;
  readonly fps: number;
}

/**
 * The first block that starts at or after `seconds` into the video.
 *
 * @example
 * ```ts
 * blockAtSecond(1, { framesPerBlock: 3, fps: 16 }); // 6 (frame 16 is in block 5, block 6 starts at frame 18)
 * ```
 */
export function blockAtSecond(seconds: number, clock: TimelineClock): number {
  // A tolerance so that 0.75 s at 16 FPS is frame 12 exactly, not 12.000000000000002.
  const frame = Math.ceil(seconds * clock.fps - 1e-9);
  return Math.ceil(frame / clock.framesPerBlock);
}

/** Prompt switches and a stop by block: what a generation request takes. */
export interface ResolvedTimeline {
  readonly switches: readonly { readonly atBlock: number; readonly prompt: string }[];
  /** The block the video stops at; absent when the timeline has no stop. */
  readonly stopAtBlock?: number;
}

/**
 * Places every timeline entry on a block (times through `clock`) and checks the order again.
 *
 * @param file - The session file, for error messages.
 * @throws {SessionFileError} `E_SESSION_INVALID` when entries given by time land on the same
 *   block as the entry before them, on block 0, or after the end of the video.
 *
 * @example
 * ```ts
 * const { switches, stopAtBlock } = resolveTimeline(session, { framesPerBlock: 3, fps: 16 }, 'switch.json');
 * ```
 */
export function resolveTimeline(session: Pick<SessionFile, 'blocks' | 'timeline'>, clock: TimelineClock, file: string): ResolvedTimeline {
  const timeline = session.timeline ?? [];
  const blockOf = (e: TimelineEntry) => e.atBlock ?? blockAtSecond(e.atSecond as number, clock);
  const issues = timelineIssues(file, session.blocks, timeline, blockOf);
  if (issues.length > 0) throw new SessionFileError('E_SESSION_INVALID', file, nonEmpty(issues, file));
  const switches = timeline.flatMap((e) => (e.prompt === undefined ? [] : [{ atBlock: blockOf(e), prompt: e.prompt }]));
  const stop = timeline.find((e) => e.stop);
  return { switches, ...(stop ? { stopAtBlock: blockOf(stop) } : {}) };
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
      { field: 'timeline', message: `${file}: field "timeline": expected ${sessionFields().timeline.expected}, got ${show(rawTimeline)}` },
    ]);
  }
  const { Schema, Either } = effectSchema();
  const decoded = Schema.decodeUnknownEither(sessionSchemas().SessionSchema, { errors: 'all', onExcessProperty: 'error' })(json);
  if (Either.isLeft(decoded)) {
    throw new SessionFileError('E_SESSION_INVALID', file, nonEmpty(schemaIssues(file, json, decoded.left), file));
  }
  const { $schema: _schema, model, timeline, ...rest } = decoded.right;
  const issues = timeline === undefined ? [] : timelineIssues(file, rest.blocks, timeline, (e) => e.atBlock);
  if (issues.length > 0) throw new SessionFileError('E_SESSION_INVALID', file, nonEmpty(issues, file));
  return {
    ...rest,
    ...(model === undefined ? {} : { model: resolve(dirname(file), model) }),
    ...(timeline === undefined ? {} : { timeline }),
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
 * Decodes a session file's text that did not come from a file (`block-cascade run -` reads it
 * from stdin), with the same size limit and messages as {@link loadSessionFile}.
 *
 * @param file - Names the source in messages (e.g. `<stdin>`); a relative `model` is resolved
 *   against its folder, which for a name without one is the working directory.
 * @throws {SessionFileError} as {@link loadSessionFile}.
 *
 * @example
 * ```ts
 * const session = decodeSessionText('{ "seed": 0, "blocks": 8, "prompt": "red ball moving left" }', '<stdin>');
 * ```
 */
export function decodeSessionText(text: string, file: string): SessionFile {
  const size = Buffer.byteLength(text, 'utf8');
  if (size > MAX_SESSION_FILE_BYTES) {
    throw new SessionFileError('E_SESSION_UNREADABLE', file, [{ message: `${file}: a session file of ${size} bytes (at most ${MAX_SESSION_FILE_BYTES})` }]);
  }
  return decodeSessionFile(parseJson(text, file), file);
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
 * // { seed: 0, blocks: 8, prompt: 'red ball moving left' }
 * ```
 */
export async function loadSessionFile(path: string): Promise<SessionFile> {
  let text: string;
  try {
    const { size } = await stat(path);
    // Checked before reading: a session script is a few hundred bytes.
    if (size > MAX_SESSION_FILE_BYTES) {
      throw new SessionFileError('E_SESSION_UNREADABLE', path, [{ message: `${path}: a session file of ${size} bytes (at most ${MAX_SESSION_FILE_BYTES})` }]);
    }
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof SessionFileError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new SessionFileError('E_SESSION_UNREADABLE', path, [{ message: `${path}: cannot read session file: ${reason}` }], { cause: err });
  }
  return decodeSessionFile(parseJson(text, path), path);
}
