/**
 * `block-cascade run <session.json>`: generate the video a session file describes and write it
 * as a GIF and/or PNG frames, with a progress bar, Ctrl-C handling and one-line errors.
 */
import { Option, type Command } from 'commander';
import type { AttentionMode, ExecMode, Parallelism } from '../runtime/cascade/cascade-options.js';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { loadSessionFile } from '../protocol/session-file.js';
import type { Frame, GenerateRequest } from '../runtime/api-types.js';
import { GifWriter } from '../runtime/output/gif.js';
import { writePngFrame } from '../runtime/output/png.js';
import type { Runtime } from '../runtime/runtime.js';
import { SIGINT_EXIT_CODE, onInterrupt } from './interrupt.js';
import { parseNonNegativeInt, parseParallelism, parsePositiveInt, parsePositiveNumber } from './options.js';
import { progressReporter } from './progress.js';
import { reportError } from './report-error.js';

/** GIF playback rate when `--fps` is not given. */
export const DEFAULT_FPS = 16;
/** Output when neither `--out` nor `--frames-dir` is given. */
export const DEFAULT_OUT = 'out.gif';

/** Options of `run`, as commander parses them (flags override the session file). */
export interface RunOptions {
  readonly out?: string;
  readonly framesDir?: string;
  readonly lanes?: number;
  readonly seed?: number;
  readonly blocks?: number;
  readonly fps: number;
  readonly parallelism?: Parallelism;
  readonly attention?: AttentionMode;
  readonly exec?: ExecMode;
  /** Read prompt switches from stdin, one per line (commander's `--no-stdin` sets false). */
  readonly stdin?: boolean;
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

async function generateInto(
  runtime: Runtime,
  request: GenerateRequest,
  signal: AbortSignal,
  gif: GifWriter | undefined,
  framesDir: string | undefined,
  input: NodeJS.ReadableStream | null,
): Promise<Outcome> {
  const progress = progressReporter(request.blocks);
  const start = performance.now();
  let frames = 0;
  let first: Frame | undefined;
  const session = runtime.session(request, { signal, onProgress: (p) => progress.update(p) });
  // Each line typed (or piped) on stdin switches the prompt while the video is made.
  const lines = input === null ? null : createInterface({ input, terminal: false });
  lines?.on('line', (line) => {
    const prompt = line.trim();
    if (prompt === '') return;
    session.switchPrompt(prompt).then(
      ({ fromBlock }) => process.stderr.write(`block-cascade: switched to "${prompt}" from block ${fromBlock}\n`),
      (err: unknown) => process.stderr.write(`block-cascade: switch to "${prompt}" not applied: ${err instanceof Error ? err.message : String(err)}\n`),
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
    lines?.close();
    if (input === process.stdin) process.stdin.pause();
  }
  return { frames, first, seconds: (performance.now() - start) / 1000 };
}

/**
 * Runs a session file; returns the exit status (0, or 130 when interrupted). Errors are thrown.
 *
 * @example
 * ```ts
 * process.exitCode = await runSession('examples/sessions/sprite.json', { out: 'a.gif', fps: 16 });
 * ```
 */
export async function runSession(sessionPath: string, options: RunOptions): Promise<number> {
  const session = await loadSessionFile(sessionPath);
  const blocks = options.blocks ?? session.blocks;
  const request: GenerateRequest = {
    seed: options.seed ?? session.seed,
    // A timeline stop ends the video at its block (whatever --blocks says).
    blocks: session.stopAtBlock === undefined ? blocks : Math.min(blocks, session.stopAtBlock),
    prompt: session.prompt,
    ...(session.switches === undefined ? {} : { switches: session.switches }),
  };
  const out = options.out ?? (options.framesDir === undefined ? DEFAULT_OUT : undefined);
  // Created before the model loads so that a bad --fps fails at once.
  const gif = out === undefined ? undefined : new GifWriter(out, { fps: options.fps });
  const outputs = [out, options.framesDir === undefined ? undefined : `${options.framesDir}/`].filter((o) => o !== undefined);

  const interrupt = onInterrupt();
  let runtime: Runtime | undefined;
  try {
    // Loaded lazily: `--help` and session-file errors must not pay for (or depend on) ONNX Runtime.
    const { createRuntime } = await import('../runtime/runtime.js');
    const lanes = options.lanes ?? session.lanes;
    const cascade = {
      parallelism: options.parallelism ?? session.parallelism,
      attention: options.attention ?? session.attention,
      exec: options.exec ?? session.exec,
    };
    const chosen = Object.fromEntries(Object.entries(cascade).filter(([, v]) => v !== undefined));
    runtime = await createRuntime({
      ...(session.model === undefined ? {} : { model: session.model }),
      ...(lanes === undefined ? {} : { lanes }),
      cascade: chosen,
    });
    interrupt.signal.throwIfAborted();
    const outcome = await generateInto(runtime, request, interrupt.signal, gif, options.framesDir, options.stdin === false ? null : process.stdin);
    await gif?.finish();
    process.stderr.write(`${summary(request, outcome, outputs)}\n`);
    return 0;
  } catch (err) {
    if (interrupt.signal.aborted) return SIGINT_EXIT_CODE;
    throw err;
  } finally {
    await runtime?.close();
    interrupt.dispose();
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
  return program
    .command('run')
    .description('generate the video described by a session file')
    .argument('<session.json>', 'session file: { seed, blocks, prompt, model?, lanes?, parallelism?, attention?, exec?, timeline? }')
    .option('--out <video.gif>', `write an animated GIF (default ${DEFAULT_OUT} when --frames-dir is not given)`)
    .option('--frames-dir <dir>', 'write each frame as frame-00000.png, … into this folder')
    .option('--lanes <n>', 'number of CPU lanes (overrides the session file)', parsePositiveInt)
    .option('--seed <s>', 'noise seed (overrides the session file)', parseNonNegativeInt)
    .option('--blocks <n>', 'number of blocks to generate (overrides the session file)', parsePositiveInt)
    .option('--fps <n>', 'GIF playback frame rate', parsePositiveNumber, DEFAULT_FPS)
    .option('--no-stdin', 'do not read prompt switches from stdin (by default each line switches the prompt)')
    .option('--parallelism <p>', 'Block Cascading level 0 (sequential) to 4 (five blocks in flight)', parseParallelism)
    .addOption(new Option('--attention <mode>', 'attention inside the cascade window').choices(['causal', 'bidirectional']))
    .addOption(new Option('--exec <mode>', 'joint: one forward per tick on one lane; lanes: spread over lanes with per-layer K/V exchange').choices(['joint', 'lanes']))
    .action(async (sessionPath: string, options: RunOptions) => {
      try {
        process.exitCode = await runSession(sessionPath, options);
      } catch (err) {
        reportError(err);
      }
    });
}
