/**
 * `block-cascade inspect <trace.jsonl>`: serves the inspector page for a recorded trace on
 * 127.0.0.1 until Ctrl-C, and/or writes it as Chrome trace-event JSON for Perfetto. Of a file
 * holding several generations it shows the last with those that ran at the same time (sessions
 * sharing one runtime), `--generation n` one, `--all-sessions` all of them.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { chromeTrace } from '../inspector/chrome-trace.js';
import { deriveModel } from '../inspector/model.js';
import { tickBreakdown } from '../inspector/tick-breakdown.js';
import { startInspector } from '../inspector/server.js';
import { TraceFileError } from '../inspector/errors.js';
import { generations, readTraceFile } from '../inspector/trace-file.js';
import { concurrentGroup } from '../inspector/session-groups.js';
import type { TraceRecord } from '../core/trace-records.js';
import { untilStopped } from './interrupt.js';
import { parsePort, parsePositiveInt } from './options.js';
import { reportError } from './report-error.js';

interface InspectOptions {
  readonly port: number;
  readonly chromeTrace?: string;
  readonly serve: boolean;
  readonly generation?: number;
  readonly allSessions?: boolean;
}

/** One line on what a generation did, and one on where its ticks' time went. */
function summary(records: readonly TraceRecord[], name: string): string {
  const model = deriveModel(records);
  const meta = model.meta;
  let text =
    `${name}: ${meta ? `P${meta.parallelism} ${meta.exec}, ${meta.lanes} lane${meta.lanes === 1 ? '' : 's'}, ` : ''}` +
    `${model.blocks.length} blocks, ${model.forwards} forwards, ${model.diagonal.ticks} ticks, ${model.duration.toFixed(1)} ms${model.end ? `, ${model.end.outcome}` : ', no end record'}\n`;
  const ticks = tickBreakdown(records);
  if (ticks) {
    const f = (v: number) => v.toFixed(2);
    // Under member dispatch (the wavefront) consecutive ticks overlap: there is no gap between them to report.
    const gap = ticks.gapMs < 0 ? 'consecutive ticks overlap' : `${f(ticks.gapMs)} ms between ticks (the actors' turn)`;
    text += `median tick ${f(ticks.tickMs)} ms = session.run ${f(ticks.runMs)} + K/V wait ${f(ticks.waitMs)} + other ${f(ticks.otherMs)}; ${gap}\n`;
  }
  return text;
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
    .option('--generation <n>', 'of a file holding several generations, the n-th alone (default: the last, with the sessions that ran at the same time as it)', parsePositiveInt)
    .option('--all-sessions', 'show every generation of the file together, as sessions on one time axis (default: the last and those that overlap it)')
    .action(async (file: string, o: InspectOptions) => {
      try {
        const all = generations(await readTraceFile(file, (warning) => process.stderr.write(`block-cascade: warning: ${warning}\n`)));
        if (o.generation !== undefined && o.allSessions === true) throw new TraceFileError(file, 0, '--generation and --all-sessions: pick one');
        const n = o.generation ?? all.length;
        if (all[n - 1] === undefined) throw new TraceFileError(file, 0, `--generation ${n}: the file holds ${all.length} generation${all.length === 1 ? '' : 's'}`);
        // Concurrent sessions are one picture: the default keeps the last generation's overlap group together.
        const shown = o.allSessions === true ? all.map((_, i) => i) : o.generation !== undefined ? [n - 1] : concurrentGroup(all, n - 1);
        for (const i of shown) {
          const session = all[i]?.[0]?.session;
          const name = `${file}${all.length > 1 ? ` (generation ${i + 1} of ${all.length}${shown.length > 1 && session !== undefined ? `, session ${session}` : ''})` : ''}`;
          process.stdout.write(summary(all[i] as TraceRecord[], name));
        }
        if (shown.length > 1) process.stdout.write(`${shown.length} sessions ran at the same time: the page shows them as swimlanes, with a session filter\n`);
        const records = all[shown.at(-1) as number] as TraceRecord[];
        if (o.chromeTrace !== undefined) {
          await writeFile(o.chromeTrace, JSON.stringify(chromeTrace(records)));
          process.stdout.write(`chrome trace: ${o.chromeTrace}${shown.length > 1 ? ` (generation ${(shown.at(-1) as number) + 1}, the last shown)` : ''} (open it in https://ui.perfetto.dev or chrome://tracing)\n`);
        }
        if (!o.serve) return;
        const inspector = await startInspector({ records: shown.flatMap((i) => all[i] as TraceRecord[]), allGenerations: true, port: o.port });
        process.stdout.write(`inspector: ${inspector.url} (Ctrl-C to stop)\n`);
        await untilStopped();
        await inspector.close();
      } catch (err) {
        reportError(err);
      }
    });
}
