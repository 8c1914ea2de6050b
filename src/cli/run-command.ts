/**
 * `block-cascade run <session.json>`: generate the video a session file describes and write it
 * as a GIF and/or PNG frames, with a progress bar, Ctrl-C handling and one-line errors.
 */
import { MAX_PROMPT_CHARS } from '../core/options.js';
import type { Command } from 'commander';
import { performance } from 'node:perf_hooks';
import { DEFAULT_FPS, loadSessionFile } from '../protocol/session-file.js';
import type { Frame, GenerateRequest } from '../core/api-types.js';
import { GifWriter } from '../output/gif.js';
import { openTraceOutputs } from './trace-outputs.js';
import type { TraceSink } from '../trace/tracer.js';
import { checkOutputFile, checkOutputFolder } from '../output/output-file.js';
import { writePngFrame } from '../output/png.js';
import type { Runtime } from '../api/runtime.js';
import { onInterrupt, untilStopped } from './interrupt.js';
import { readLines } from './stdin-lines.js';
import { addGenerationFlags, flagName, type GenerationFlags } from './generation-flags.js';
import { parseNonNegativeInt, parsePort, parsePositiveInt, parsePositiveNumber } from './options.js';
import { progressReporter } from './progress.js';
import { reportError } from './report-error.js';

/** Output when neither `--out` nor `--frames-dir` is given. */
export const DEFAULT_OUT = 'out.gif';

/** Options of `run`, as commander parses them (flags override the session file). */
export interface RunOptions extends GenerationFlags {
  readonly out?: string;
  readonly framesDir?: string;
  readonly lanes?: number;
  readonly seed?: number;
  readonly blocks?: number;
  /** GIF playback rate and the clock of `atSecond` timeline entries (default: the file's, else 16). */
  readonly fps?: number;
  /** Read prompt switches from stdin, one per line (commander's `--no-stdin` sets false). */
  readonly stdin?: boolean;
  /** Write the generation's trace here (JSON Lines). */
  readonly trace?: string;
  /** Write the trace as Chrome trace-event JSON here (Perfetto). */
  readonly chromeTrace?: string;
  /** Serve the inspector page live while generating, then until Ctrl-C. */
  readonly inspect?: boolean;
  readonly inspectPort?: number;
}

interface Outcome {
  readonly frames: number;
  readonly first: Frame | undefined;
  readonly seconds: number;
}

function summary(request: GenerateRequest, outcome: Outcome, outputs: readonly string[]): string {
  const size = outcome.first ? ` (${outcome.first.width}×${outcome.first.height})` : '';
  const fps = outcome.seconds > 0 ? outcome.frames / outcome.seconds : 0;
  return (
    `block-cascade: ${request.blocks} blocks, ${outcome.frames} frames${size} in ${outcome.seconds.toFixed(2)} s, ` +
    `${fps.toFixed(1)} FPS → ${outputs.join(', ')}`
  );
}

const overlong = (chars: number) => `a prompt of ${chars} characters ignored (at most ${MAX_PROMPT_CHARS})`;

/** What a line read from stdin asks for: a prompt switch, nothing (a blank line), or a refusal to report. */
export type StdinLine = { readonly prompt: string } | { readonly ignored: string } | null;

/**
 * Reads one stdin line: the prompt it switches to (trimmed), null for a blank line, or why it is
 * ignored (too long).
 *
 * @example
 * ```ts
 * stdinPrompt('  blue ball moving up '); // { prompt: 'blue ball moving up' }
 * ```
 */
export function stdinPrompt(line: string): StdinLine {
  const prompt = line.trim();
  if (prompt === '') return null;
  if (prompt.length > MAX_PROMPT_CHARS) return { ignored: overlong(prompt.length) };
  return { prompt };
}

/** A line as it may be echoed to a terminal: control characters escaped (`\x1b`), never sent raw. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

async function generateInto(
  runtime: Runtime,
  request: GenerateRequest,
  signal: AbortSignal,
  gif: GifWriter | undefined,
  framesDir: string | undefined,
  input: NodeJS.ReadableStream | null,
  trace: TraceSink | undefined,
): Promise<Outcome> {
  const progress = progressReporter(request.blocks);
  const start = performance.now();
  let frames = 0;
  let first: Frame | undefined;
  const session = runtime.session(request, { signal, onProgress: (p) => progress.update(p), ...(trace ? { trace } : {}) });
  // Each line typed (or piped) on stdin switches the prompt while the video is made.
  const stopReading = input === null ? null : readLines(input, MAX_PROMPT_CHARS, (line) => {
    const read = 'overlong' in line ? { ignored: overlong(line.overlong) } : stdinPrompt(line.line);
    if (read === null) return;
    if ('ignored' in read) {
      process.stderr.write(`block-cascade: ${read.ignored}\n`);
      return;
    }
    const { prompt } = read;
    session.switchPrompt(prompt).then(
      ({ fromBlock }) => process.stderr.write(`block-cascade: switched to "${printable(prompt)}" from block ${fromBlock}\n`),
      (err: unknown) => process.stderr.write(`block-cascade: switch to "${printable(prompt)}" not applied: ${err instanceof Error ? err.message : String(err)}\n`),
    );
  });
  try {
    for await (const frame of session.frames) {
      first ??= frame;
      frames++;
      // Encode and write each frame as it arrives, so no frame list is kept.
      gif?.add(frame);
      if (framesDir !== undefined) await writePngFrame(framesDir, frame);
    }
  } finally {
    progress.stop();
    stopReading?.();
  }
  return { frames, first, seconds: (performance.now() - start) / 1000 };
}

/**
 * Runs a session file; returns the exit status (0; 130 after Ctrl-C, 143 after SIGTERM). Errors are thrown.
 *
 * @example
 * ```ts
 * process.exitCode = await runSession('examples/sessions/sprite.json', { out: 'a.gif', fps: 16 });
 * ```
 */
export async function runSession(sessionPath: string, options: RunOptions): Promise<number> {
  const session = await loadSessionFile(sessionPath);
  // Loaded lazily, like the runtime: `--help` must not pay for (or depend on) ONNX Runtime.
  const { planSession } = await import('../api/session-plan.js');
  // planSession reads only the overriding fields (lanes, seed, blocks, fps, cascade settings).
  const plan = await planSession(session, sessionPath, { ...options, describe: flagName });
  const request = plan.request;
  const out = options.out ?? (options.framesDir === undefined ? DEFAULT_OUT : undefined);
  // Created before the model loads so that a bad --fps fails at once.
  const gif = out === undefined ? undefined : new GifWriter(out, { fps: plan.fps });
  const outputs = [out, options.framesDir === undefined ? undefined : `${options.framesDir}/`, options.trace, options.chromeTrace].filter((o) => o !== undefined);

  // Checked before the model loads and the first forward: an unwritable output must not be
  // found after the whole generation.
  if (out !== undefined) await checkOutputFile(out);
  if (options.framesDir !== undefined) await checkOutputFolder(options.framesDir);

  const interrupt = onInterrupt();
  let runtime: Runtime | undefined;
  const trace = await openTraceOutputs(options);
  if (trace.inspector) process.stderr.write(`block-cascade: inspector ${trace.inspector.url} (live)\n`);
  let interrupted = false;
  try {
    // Loaded lazily: `--help` and session-file errors must not pay for (or depend on) ONNX Runtime.
    const { createRuntime } = await import('../api/runtime.js');
    runtime = await createRuntime(plan.runtime);
    interrupt.signal.throwIfAborted();
    const outcome = await generateInto(runtime, request, interrupt.signal, gif, options.framesDir, options.stdin === false ? null : process.stdin, trace.sink);
    await gif?.finish();
    process.stderr.write(`${summary(request, outcome, outputs)}\n`);
    return 0;
  } catch (err) {
    interrupted = interrupt.signal.aborted;
    if (!interrupted) throw err;
    // Ctrl-C or SIGTERM: the frames made so far are a video too, shorter.
    if (gif !== undefined && gif.frames > 0) {
      await gif.finish();
      process.stderr.write(`block-cascade: stopped after ${gif.frames} frames; wrote ${gif.path}\n`);
    }
    return interrupt.exitCode;
  } finally {
    await runtime?.close();
    interrupt.dispose();
    // Also after a failure or Ctrl-C: the trace up to that point is what explains it.
    await trace.finish();
    if (trace.inspector) {
      // The page stays useful after the video is made (scrub, click): serve until Ctrl-C.
      if (!interrupted) {
        process.stderr.write(`block-cascade: inspector still serving ${trace.inspector.url} (Ctrl-C to quit)\n`);
        await untilStopped();
      }
      await trace.inspector.close();
    }
  }
}

/**
 * Adds the `run` command to a program.
 *
 * @example
 * ```ts
 * const program = new Command('block-cascade');
 * registerRunCommand(program);
 * await program.parseAsync(['node', 'block-cascade', 'run', 'examples/sessions/sprite.json']);
 * ```
 */
export function registerRunCommand(program: Command): Command {
  const command = program
    .command('run')
    .description('generate the video described by a session file')
    .argument('<session.json>', 'session file: { seed, blocks, prompt, model?, lanes?, parallelism?, attention?, exec?, recache?, steps?, fps?, timeline? }')
    .option('--out <video.gif>', `write an animated GIF (default ${DEFAULT_OUT} when --frames-dir is not given)`)
    .option('--frames-dir <dir>', 'write each frame as frame-00000.png, … into this folder')
    .option('--lanes <n>', 'number of CPU lanes (overrides the session file)', parsePositiveInt)
    .option('--seed <s>', 'noise seed (overrides the session file)', parseNonNegativeInt)
    .option('--blocks <n>', 'number of blocks to generate (overrides the session file)', parsePositiveInt)
    .option('--fps <n>', `video frame rate: GIF playback and the clock of "atSecond" timeline entries (default: the session file's, else ${DEFAULT_FPS})`, parsePositiveNumber)
    .option('--trace <file.jsonl>', 'record actor states, lane activity, KV occupancy, switches and frames (open with block-cascade inspect)')
    .option('--chrome-trace <file.json>', 'also write the trace as Chrome trace-event JSON (Perfetto, chrome://tracing)')
    .option('--inspect', 'serve the inspector page on 127.0.0.1, live while generating, then until Ctrl-C')
    .option('--inspect-port <n>', 'port of --inspect (0 picks a free one)', parsePort, 0)
    .option('--no-stdin', 'do not read prompt switches from stdin (by default each line switches the prompt)');
  return addGenerationFlags(command, '(overrides the session file)').action(async (sessionPath: string, options: RunOptions) => {
      try {
        process.exitCode = await runSession(sessionPath, options);
      } catch (err) {
        reportError(err);
      }
    });
}
