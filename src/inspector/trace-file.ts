/**
 * Reading a trace file (`--trace FILE.jsonl`, see src/core/trace-records.ts) back into
 * records. Every fault is reported with the file and line, and the fields the inspector relies
 * on are checked here, once, so the views never meet a half-formed record.
 */
import { readFile } from 'node:fs/promises';
import { TRACE_VERSION, type TraceRecord } from '../core/trace-records.js';
import { TraceFileError } from './errors.js';
import { show } from '../protocol/json-value.js';

/** How a field must look: a JSON type, an integer (≥ 0), an array of those, or one of some strings. */
type FieldSpec = 'string' | 'number' | 'int' | 'boolean' | 'int[]' | 'number[]' | 'string[]' | readonly string[];

/** Required fields per known kind (`?` marks an optional one); `kind` and `t` are checked for all. */
const FIELDS: Record<TraceRecord['kind'], Record<string, FieldSpec>> = {
  meta: { version: 'int', lanes: 'int', parallelism: 'int', blocks: 'int', framesPerBlock: 'int', kvCapacity: 'int', blockStates: 'string[]', model: 'string', exec: 'string', attention: 'string' },
  state: { actor: 'string', state: 'string' },
  event: { actor: 'string', event: 'string' },
  lane: { lane: 'int', phase: ['start', 'end'], task: ['encode', 'tick', 'share', 'recache', 'decode'], blocks: 'int[]', stages: 'int[]', 'tick?': 'int', 'runMs?': 'number', 'exchangeWaitMs?': 'number', 'layerWaitsMs?': 'number[]', 'reused?': 'int[]', 'error?': 'string' },
  kv: { free: 'int', reserved: 'int', committed: 'int' },
  switch: { prompt: 'string', fromBlock: 'int', live: 'boolean' },
  recache: { beforeBlock: 'int', frames: 'int', ms: 'number' },
  frame: { block: 'int', firstFrame: 'int', frames: 'int' },
  features: { tick: 'int' },
  snapshot: { block: 'int', bytes: 'int', captureMs: 'number', 'replays?': 'int' },
  end: { blocks: 'int', outcome: ['finished', 'stopped', 'failed', 'aborted'], 'error?': 'string' },
};

const isInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

function matches(value: unknown, spec: FieldSpec): boolean {
  if (Array.isArray(spec)) return typeof value === 'string' && spec.includes(value);
  switch (spec) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'int':
      return isInt(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'int[]':
      return Array.isArray(value) && value.every(isInt);
    case 'number[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
  }
  return false;
}

const describe = (spec: FieldSpec): string =>
  Array.isArray(spec) ? `one of ${spec.map((s) => JSON.stringify(s)).join(', ')}` : ({ int: 'a non-negative integer', 'int[]': 'an array of non-negative integers', 'number[]': 'an array of numbers', 'string[]': 'an array of strings' } as Record<string, string>)[spec as string] ?? `a ${spec as string}`;

/** Why `object` is not a well-formed record of its kind, or null when it is. */
function fault(object: Record<string, unknown>): string | null {
  // Every kind may carry the generation's id (`SessionTag`).
  const fields = { ...FIELDS[object['kind'] as TraceRecord['kind']], 'session?': 'int' as const };
  for (const [key, spec] of Object.entries(fields)) {
    const optional = key.endsWith('?');
    const name = optional ? key.slice(0, -1) : key;
    const value = object[name];
    if (value === undefined && optional) continue;
    if (value === undefined) return `${object['kind'] as string} record without field "${name}"`;
    if (!matches(value, spec)) return `${object['kind'] as string} record: field "${name}" should be ${describe(spec)}, got ${show(value)}`;
  }
  return null;
}

/** Longest trace line read: the largest record the tracer writes is a few kilobytes. */
export const MAX_TRACE_LINE_CHARS = 1 << 20;

/**
 * Parses the text of a JSONL trace. Blank lines are skipped; records of kinds this version does
 * not know are dropped (the format lets writers add kinds). A file may hold several
 * generations, each starting with its `meta` record (see {@link generations}).
 *
 * @param file Names the source in error messages.
 * @param onWarning When given, a last line cut off mid-record (no newline, not JSON: the writer
 *   crashed) is reported to it and skipped instead of refusing the whole trace.
 * @throws {TraceFileError} naming the line: not JSON, not an object, no `kind` or `t`, a field
 *   of the wrong type, a first record other than `meta`, or a `meta` of another version.
 *
 * @example
 * ```ts
 * const records = parseTrace('{"kind":"meta","t":0,"version":1,…}\n', 'run.jsonl');
 * parseTrace('{"kind":"state"}', 'bad.jsonl'); // throws: bad.jsonl:1: record without "t" …
 * ```
 */
export function parseTrace(text: string, file: string, onWarning?: (warning: string) => void): TraceRecord[] {
  const records: TraceRecord[] = [];
  const lines = text.split('\n');
  let seenMeta = false;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const fail = (reason: string, cause?: unknown): never => {
      throw new TraceFileError(file, i + 1, reason, cause === undefined ? undefined : { cause });
    };
    // Records are small (handles, names, milliseconds); a huge line is not a trace's.
    if (line.length > MAX_TRACE_LINE_CHARS) fail(`a line of ${line.length} characters (a record has at most ${MAX_TRACE_LINE_CHARS})`);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      // The writer ends every record with a newline: a last line without one that is not JSON
      // was cut off by a crash (or a full disk). The records before it are whole: keep them.
      if (i === lines.length - 1 && onWarning !== undefined) {
        onWarning(`${file}:${i + 1}: the last line was cut off (${line.length} characters, no newline, not JSON): ignored`);
        break;
      }
      fail(`not valid JSON (${(err as Error).message})`, err);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(`expected a JSON object, got ${line.slice(0, 40)}`);
    const object = value as Record<string, unknown>;
    if (typeof object['kind'] !== 'string') fail('record without a string "kind"');
    if (typeof object['t'] !== 'number' || !Number.isFinite(object['t']) || object['t'] < 0) fail(`record without a time "t" (milliseconds ≥ 0), got ${show(object['t'])}`);
    const kind = object['kind'] as string;
    if (!seenMeta && kind !== 'meta') fail(`the first record must be "meta" (what was run), got "${kind}": is this a block-cascade trace?`);
    if (kind === 'meta') {
      if (object['version'] !== TRACE_VERSION) fail(`trace version ${show(object['version'])}, but this inspector reads version ${TRACE_VERSION}`);
      seenMeta = true;
    }
    if (!Object.hasOwn(FIELDS, kind)) continue;
    const problem = fault(object);
    if (problem !== null) fail(problem);
    records.push(object as unknown as TraceRecord);
  }
  if (!seenMeta) throw new TraceFileError(file, 0, 'no records: the trace is empty');
  return records;
}

/**
 * Reads and parses a JSONL trace file (`onWarning` as in {@link parseTrace}).
 *
 * @throws {TraceFileError} for a file that cannot be read or parsed (see {@link parseTrace}).
 *
 * @example
 * ```ts
 * const records = await readTraceFile('run.jsonl');
 * ```
 */
export async function readTraceFile(path: string, onWarning?: (warning: string) => void): Promise<TraceRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TraceFileError(path, 0, `cannot read the trace (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  return parseTrace(text, path, onWarning);
}

/**
 * Splits records into generations: each `meta` record starts one (a runtime traces each
 * `generate` on its own, and a writer may append several to a file). Records that carry their
 * generation's id (`session`) go to that generation wherever they are, so sessions that ran at
 * once and shared one sink come apart; generations are ordered by their first record.
 *
 * @example
 * ```ts
 * const last = generations(records).at(-1) ?? [];
 * ```
 */
export function generations(records: readonly TraceRecord[]): TraceRecord[][] {
  const out: TraceRecord[][] = [];
  const bySession = new Map<number, TraceRecord[]>();
  let current: TraceRecord[] | undefined;
  for (const record of records) {
    if (record.session !== undefined) {
      let list = bySession.get(record.session);
      // A session id seen again after its generation ended is a new runtime's generation.
      if (list === undefined || record.kind === 'meta') {
        list = [];
        bySession.set(record.session, list);
        out.push(list);
      }
      list.push(record);
      continue;
    }
    if (record.kind === 'meta' || current === undefined) {
      current = [];
      out.push(current);
    }
    current.push(record);
  }
  return out;
}
