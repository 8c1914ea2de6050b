/**
 * Trace records as JSON Lines: one record per line, so a trace can be read while it is being
 * written and a cut-off file is still readable up to its last full line.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TraceRecord } from '../core/trace-records.js';

/** A trace being written to a file. */
export interface TraceFile {
  /** Pass as `GenerateOptions.trace`. */
  readonly sink: (record: TraceRecord) => void;
  /** Records written so far. */
  readonly count: () => number;
  /** Flushes and closes the file; rejects if writing failed. */
  close(): Promise<void>;
}

/**
 * Opens `path` (parent folders created) for a trace.
 *
 * @example
 * ```ts
 * const trace = await openTraceFile('run.jsonl');
 * for await (const frame of runtime.generate(request, { trace: trace.sink })) show(frame);
 * await trace.close();
 * ```
 */
export async function openTraceFile(path: string): Promise<TraceFile> {
  await mkdir(dirname(path), { recursive: true });
  const stream = createWriteStream(path);
  let failure: Error | null = null;
  stream.on('error', (error) => (failure ??= error));
  let written = 0;
  return {
    // The stream buffers: a record costs a stringify, never a wait on the disk.
    sink: (record) => {
      written++;
      stream.write(`${JSON.stringify(record)}\n`);
    },
    count: () => written,
    close: () =>
      new Promise<void>((resolve, reject) => {
        stream.end(() => (failure ? reject(new Error(`cannot write trace ${path}: ${failure.message}`)) : resolve()));
      }),
  };
}

/**
 * Records as JSON Lines text.
 *
 * @example
 * ```ts
 * await writeFile('trace.jsonl', toJsonl(records));
 * ```
 */
export function toJsonl(records: readonly TraceRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}
