/**
 * `block-cascade inspect <trace.jsonl>`: serves the inspector page for a recorded trace on
 * 127.0.0.1 until Ctrl-C, and/or writes it as Chrome trace-event JSON for Perfetto.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { chromeTrace } from '../inspector/chrome-trace.js';
import { deriveModel } from '../inspector/model.js';
import { tickBreakdown } from '../inspector/tick-breakdown.js';
import { startInspector } from '../inspector/server.js';
import { TraceFileError } from '../inspector/errors.js';
import { generations, readTraceFile } from '../inspector/trace-file.js';
import { untilStopped } from './interrupt.js';
import { parsePort, parsePositiveInt } from './options.js';
import { reportError } from './report-error.js';

interface InspectOptions {
  readonly port: number;
  readonly chromeTrace?: string;
  readonly serve: boolean;
  readonly generation?: number;
}

/**
 * Adds the `inspect` command to a program.
 *
 * @example
 * ```ts
 * registerInspectCommand(new Command('block-cascade'));
 * // block-cascade inspect run.jsonl --port 8080
 * // block-cascade inspect run.jsonl --chrome-trace run.trace.json --no-serve
 * ```
 */
export function registerInspectCommand(program: Command): Command {
  return program
    .command('inspect')
    .description('serve the inspector page for a trace (--trace FILE.jsonl of run/bench) on 127.0.0.1, or export it for Perfetto')
    .argument('<trace>', 'JSONL trace file')
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', parsePort, 0)
    .option('--chrome-trace <out>', 'also write Chrome trace-event JSON (open it in ui.perfetto.dev or chrome://tracing)')
    .option('--no-serve', 'do not serve the page: check the trace (and write --chrome-trace), then exit')
    .option('--generation <n>', 'of a file holding several generations, the n-th (default: the last)', parsePositiveInt)
    .action(async (file: string, o: InspectOptions) => {
      try {
        const all = generations(await readTraceFile(file, (warning) => process.stderr.write(`block-cascade: warning: ${warning}\n`)));
        const n = o.generation ?? all.length;
        const records = all[n - 1];
        if (records === undefined) throw new TraceFileError(file, 0, `--generation ${n}: the file holds ${all.length} generation${all.length === 1 ? '' : 's'}`);
        const model = deriveModel(records);
        const meta = model.meta;
        process.stdout.write(
          `${file}${all.length > 1 ? ` (generation ${n} of ${all.length})` : ''}: ${meta ? `P${meta.parallelism} ${meta.exec}, ${meta.lanes} lane${meta.lanes === 1 ? '' : 's'}, ` : ''}` +
            `${model.blocks.length} blocks, ${model.forwards} forwards, ${model.diagonal.ticks} ticks, ${model.duration.toFixed(1)} ms${model.end ? `, ${model.end.outcome}` : ', no end record'}\n`,
        );
        const ticks = tickBreakdown(records);
        if (ticks) {
          const f = (v: number) => v.toFixed(2);
          process.stdout.write(
            `median tick ${f(ticks.tickMs)} ms = session.run ${f(ticks.runMs)} + K/V wait ${f(ticks.waitMs)} + other ${f(ticks.otherMs)}; ` +
              `${f(ticks.gapMs)} ms between ticks (the actors' turn)\n`,
          );
        }
        if (o.chromeTrace !== undefined) {
          await writeFile(o.chromeTrace, JSON.stringify(chromeTrace(records)));
          process.stdout.write(`chrome trace: ${o.chromeTrace} (open it in https://ui.perfetto.dev or chrome://tracing)\n`);
        }
        if (!o.serve) return;
        const inspector = await startInspector({ records, port: o.port });
        process.stdout.write(`inspector: ${inspector.url} (Ctrl-C to stop)\n`);
        await untilStopped();
        await inspector.close();
      } catch (err) {
        reportError(err);
      }
    });
}
