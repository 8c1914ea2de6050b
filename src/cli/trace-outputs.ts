/**
 * Where a command's trace goes: a JSON Lines file (`--trace`), a Chrome trace-event file
 * (`--chrome-trace`), a live inspector page (`--inspect`), any combination, fed by one sink.
 */
import { writeFile } from 'node:fs/promises';
import type { Inspector } from '../inspector/server.js';
import { openTraceFile } from '../trace/jsonl.js';
import type { TraceRecord } from '../core/trace-records.js';
import type { TraceSink } from '../trace/tracer.js';

/** The trace flags of a command. */
export interface TraceFlags {
  readonly trace?: string;
  readonly chromeTrace?: string;
  readonly inspect?: boolean;
  readonly inspectPort?: number;
}

/** Open trace outputs. */
export interface TraceOutputs {
  /** Undefined when no flag asked for a trace (the generation then records nothing). */
  readonly sink: TraceSink | undefined;
  /** The live page, when `--inspect` was given. */
  readonly inspector: Inspector | undefined;
  /** Closes the JSONL file and writes the Chrome trace; the inspector keeps serving. */
  finish(): Promise<void>;
}

/**
 * Opens the outputs the flags ask for.
 *
 * @example
 * ```ts
 * const outputs = await openTraceOutputs({ trace: 'run.jsonl', inspect: true });
 * for await (const frame of runtime.generate(request, { trace: outputs.sink })) show(frame);
 * await outputs.finish();
 * ```
 */
export async function openTraceOutputs(flags: TraceFlags): Promise<TraceOutputs> {
  const file = flags.trace === undefined ? undefined : await openTraceFile(flags.trace);
  // Loaded only when asked for: a plain run does not load the page's code.
  const inspector = flags.inspect ? await (await import('../inspector/server.js')).startInspector({ live: true, port: flags.inspectPort ?? 0 }) : undefined;
  const kept: TraceRecord[] | undefined = flags.chromeTrace === undefined ? undefined : [];
  const sinks = [file?.sink, inspector?.push, kept ? (r: TraceRecord) => void kept.push(r) : undefined].filter((s) => s !== undefined);
  return {
    sink: sinks.length === 0 ? undefined : (record) => sinks.forEach((sink) => sink(record)),
    inspector,
    finish: async () => {
      await file?.close();
      if (kept && flags.chromeTrace !== undefined) {
        const { chromeTrace } = await import('../inspector/chrome-trace.js');
        await writeFile(flags.chromeTrace, JSON.stringify(chromeTrace(kept)));
      }
    },
  };
}
