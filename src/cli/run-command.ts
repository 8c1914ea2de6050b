/**
 * `block-cascade run [session.json | -] [--prompt "…"]`: generate the video a session file (or
 * stdin, or the flags alone) describes and write it as a GIF, MP4/WebM (through ffmpeg) and/or
 * PNG frames, with progress, Ctrl-C handling and one-line errors.
 */
import type { NatsAuth } from '../cluster/nats-auth.js';
import { natsAuthFromFlags, withNatsFlags, type NatsFlags } from './nats-flags.js';
import { MAX_PROMPT_CHARS } from '../core/options.js';
import type { Command } from 'commander';
import { performance } from 'node:perf_hooks';
import { relative, resolve, isAbsolute } from 'node:path';
import { DEFAULT_FPS, decodeSessionFile, decodeSessionText, loadSessionFile, MAX_SESSION_FILE_BYTES, SessionFileError, type SessionFile } from '../protocol/session-file.js';
import type { Frame, GenerateRequest, LoadProgress } from '../core/api-types.js';
import type { GenerationSettings } from '../core/cascade-options.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { GifWriter } from '../output/gif.js';
import { scaleFrame } from '../output/scale.js';
import { findVideoEncoder, VideoWriter, videoFormatOf } from '../output/video.js';
import { openTraceOutputs } from './trace-outputs.js';
import type { TraceSink } from '../trace/tracer.js';
import { checkOutputFile, checkOutputFolder } from '../output/output-file.js';
import { writePngFrame } from '../output/png.js';
import type { Runtime } from '../api/runtime.js';
import type { Cluster, ClusterSession, Failover } from '../cluster/client.js';
import type { GenerationSession, SessionOptions } from '../core/session-types.js';
import { onInterrupt, untilStopped } from './interrupt.js';
import { readLines } from './stdin-lines.js';
import { addGenerationFlags, flagName, type GenerationFlags } from './generation-flags.js';
import { parseNonNegativeInt, parsePort, parsePositiveInt, parsePositiveNumber, parseScale } from './options.js';
import { progressReporter } from './progress.js';
import { reportError } from './report-error.js';

/** Output when neither `--out` nor `--frames-dir` is given. */
export const DEFAULT_OUT = 'out.gif';

/** Blocks generated from `--prompt` when `--blocks` is not given (a few seconds of video). */
export const DEFAULT_PROMPT_BLOCKS = 8;

/** The session argument that reads the session file from stdin. */
export const STDIN_SESSION = '-';

/** How messages name a session built from flags, and the session read from stdin. */
const FLAGS_SOURCE = 'command line';
const STDIN_SOURCE = '<stdin>';

/** Options of `run`, as commander parses them (flags override the session file). */
export interface RunOptions extends GenerationFlags {
  /** The prompt of a session built from the flags (no session file). */
  readonly prompt?: string;
  /** Model package folder (overrides the session file's). */
  readonly model?: string;
  /** GIF, or MP4/WebM by the extension. */
  readonly out?: string;
  /** Enlarge every output this many times (nearest neighbour), 1..16. */
  readonly scale?: number;
  /** No progress output. */
  readonly quiet?: boolean;
  /** Let prompts hold words the model does not know (they become its unknown token). */
  readonly allowUnknownWords?: boolean;
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
  /** Run on a cluster's workers through this NATS server instead of a local runtime. */
  readonly nats?: string;
  /** `--nats`: blocks between the session's snapshots (the client's `snapshotEvery`; 0: none). */
  readonly snapshotEvery?: number;
  /** `--nats`: blocks between K/V keyframes of the session's snapshots (the client's `keyframeEvery`). */
  readonly keyframeEvery?: number;
}

/** `run`'s options: the session's, and the NATS credentials and TLS of `--nats`. */
export type RunCommandOptions = RunOptions & NatsFlags;

interface Outcome {
  readonly frames: number;
  readonly first: Frame | undefined;
  readonly seconds: number;
  /** The session's `end` event: its forwards, and those that reused cached features. */
  readonly forwards: { readonly forwards: number; readonly reusedForwards: number } | undefined;
}

/** What the summary line names besides the outcome. */
interface RunSetup {
  readonly model: string;
  readonly settings: GenerationSettings;
  readonly lanes: number;
  readonly scale: number;
  /** `--nats`: the server whose workers made the video (their model and lanes). */
  readonly cluster?: string;
}

/** A model folder as the user would type it: relative to the working directory when inside it. */
function shownPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * The last line of a run: what ran (model, steps, P level, attention, exec, lanes) and what it
 * gave (blocks, frames, FPS, generation and wall time, outputs), so a log says how a video was made.
 */
function summary(setup: RunSetup, request: GenerateRequest, outcome: Outcome, outputs: readonly string[]): string {
  const { settings, scale } = setup;
  const first = outcome.first;
  const size = first ? ` (${first.width}×${first.height}${scale > 1 ? `, written ×${scale} as ${first.width * scale}×${first.height * scale}` : ''})` : '';
  const fps = outcome.seconds > 0 ? outcome.frames / outcome.seconds : 0;
  // performance.now() counts from the process start: the wall time includes start-up and model load.
  const wall = performance.now() / 1000;
  return (
    `block-cascade: ${setup.cluster === undefined ? `model ${setup.model}` : `cluster ${setup.cluster}`}, ${settings.steps} steps, P${settings.parallelism}, ${settings.attention} attention, exec ${settings.exec}, ` +
    `${setup.cluster === undefined ? `${setup.lanes} lane${setup.lanes === 1 ? '' : 's'}` : "the workers' lanes"}: ${request.blocks} blocks, ${outcome.frames} frames${size} in ${outcome.seconds.toFixed(2)} s, ` +
    `${fps.toFixed(1)} FPS, wall ${wall.toFixed(2)} s → ${outputs.join(', ')}`
  );
}

/**
 * What feature caching skipped (`--feature-cache`), from the session's `end` event: the forwards
 * that reused the block's cached features instead of running the layers, of all its forwards
 * (cache steps included, which always compute). On a cluster, after a failover, those of the
 * worker that finished the session.
 */
function featureCacheLine(settings: GenerationSettings, outcome: Outcome): string | null {
  const cache = settings.featureCache;
  if (cache.policy === 'none' || outcome.forwards === undefined || outcome.forwards.forwards === 0) return null;
  const { forwards, reusedForwards } = outcome.forwards;
  return `block-cascade: feature cache ${cache.policy} δ = ${cache.threshold}: ${reusedForwards} of ${forwards} forwards reused the block's cached features (${((100 * reusedForwards) / forwards).toFixed(0)} %)`;
}

/** A failover of a cluster session, as `run --nats` reports it after the video. */
function failoverLine(f: Failover): string {
  const from = f.fromSnapshot === undefined ? 'replayed from block 0' : `resumed from the snapshot of block ${f.fromSnapshot}`;
  return `block-cascade: at frame ${f.atFrame} the session moved from worker ${f.from} to ${f.to} (${f.reason}); ${from}, placed ${f.placedAt - f.detectedAt} ms after the loss was noticed`;
}

/** One line per loading step: `block-cascade: loaded denoiser (3/4)`, `block-cascade: lane 1 ready (2/2)`. */
function loadLine(e: LoadProgress): string {
  return e.stage === 'file' ? `block-cascade: loaded ${e.file} (${e.done}/${e.total})` : `block-cascade: lane ${e.lane} ready (${e.done}/${e.total})`;
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

/** The single-file video output: a GIF or an MP4/WebM written through ffmpeg. */
interface VideoOut {
  readonly path: string;
  readonly frames: number;
  add(frame: Frame): void | Promise<void>;
  finish(): Promise<void>;
  /** Drops the unfinished file (ffmpeg stopped, its temporary file removed). */
  abort?(): Promise<void>;
}

/** Where the frames go and how. */
interface Outputs {
  readonly video: VideoOut | undefined;
  readonly framesDir: string | undefined;
  readonly scale: number;
}

/** Starts a live session: on the local runtime, or on a cluster's worker (`--nats`). */
type OpenSession = (request: GenerateRequest, options: SessionOptions) => GenerationSession;

async function generateInto(
  open: OpenSession,
  request: GenerateRequest,
  signal: AbortSignal,
  outputs: Outputs,
  input: NodeJS.ReadableStream | null,
  trace: TraceSink | undefined,
  flags: { readonly quiet: boolean; readonly allowUnknownWords: boolean },
): Promise<Outcome> {
  const { video, framesDir, scale } = outputs;
  const progress = progressReporter(request.blocks, process.stderr, { quiet: flags.quiet });
  const start = performance.now();
  let frames = 0;
  let first: Frame | undefined;
  const session = open(request, { signal, onProgress: (p) => progress.update(p), ...(trace ? { trace } : {}), ...(flags.allowUnknownWords ? { allowUnknownWords: true } : {}) });
  let forwards: Outcome['forwards'];
  session.on((event) => {
    if (event.type === 'end') forwards = { forwards: event.forwards, reusedForwards: event.reusedForwards };
  });
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
      const written = scale === 1 ? frame : scaleFrame(frame, scale);
      await video?.add(written);
      if (framesDir !== undefined) await writePngFrame(framesDir, written);
    }
  } finally {
    progress.stop();
    stopReading?.();
  }
  return { frames, first, seconds: (performance.now() - start) / 1000, forwards };
}

/** Reads a whole session file from stdin (`run -`), refusing more than a session file may hold. */
async function readStdinText(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    // Stopped at the limit rather than after reading whatever is piped in.
    if (size > MAX_SESSION_FILE_BYTES) {
      throw new SessionFileError('E_SESSION_UNREADABLE', STDIN_SOURCE, [{ message: `${STDIN_SOURCE}: more than ${MAX_SESSION_FILE_BYTES} bytes (the most a session file may hold)` }]);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The session of a run without a session file: built from the flags and decoded like a file, so
 * that planning, overrides and checks are the same path; a bad value is named by its flag.
 */
function sessionFromFlags(options: RunOptions): SessionFile {
  const json = {
    seed: options.seed ?? 0,
    blocks: options.blocks ?? DEFAULT_PROMPT_BLOCKS,
    prompt: options.prompt,
    ...(options.model === undefined ? {} : { model: options.model }),
  };
  try {
    return decodeSessionFile(json, FLAGS_SOURCE);
  } catch (err) {
    if (!(err instanceof SessionFileError)) throw err;
    const [first, ...rest] = err.issues.map((issue) =>
      issue.field === undefined ? issue : { ...issue, message: issue.message.replace(`${FLAGS_SOURCE}: field "${issue.field}"`, flagName(issue.field)) },
    );
    throw new SessionFileError(err.code, FLAGS_SOURCE, [first ?? { message: err.message }, ...rest], { cause: err });
  }
}

/** The session a run asks for, and the name its messages use; checks that exactly one source is given. */
async function sessionSource(sessionArg: string | undefined, options: RunOptions): Promise<{ session: SessionFile; file: string }> {
  if (sessionArg !== undefined && options.prompt !== undefined) {
    throw new RunUsageError(`give a session file or --prompt, not both (got "${sessionArg}" and --prompt)`);
  }
  if (options.prompt !== undefined) return { session: sessionFromFlags(options), file: FLAGS_SOURCE };
  if (sessionArg === undefined) throw new RunUsageError('give a session file (run session.json), "-" to read one from stdin, or --prompt "red ball moving left"');
  const loaded = sessionArg === STDIN_SESSION
    ? { session: decodeSessionText(await readStdinText(process.stdin), STDIN_SOURCE), file: STDIN_SOURCE }
    : { session: await loadSessionFile(sessionArg), file: sessionArg };
  // --model overrides the file's model, resolved against the working directory like any path typed.
  if (options.model === undefined) return loaded;
  return { ...loaded, session: { ...loaded.session, model: resolve(options.model) } };
}

/** A `run` invoked with no session source or two: commander prints it as a usage error. */
export class RunUsageError extends Error {
  override readonly name = 'RunUsageError';
}

/**
 * Runs a session file (`-`: read from stdin; undefined: built from `options.prompt`); returns the
 * exit status (0; 130 after Ctrl-C, 143 after SIGTERM). Errors are thrown.
 *
 * @throws {RunUsageError} when neither or both of a session and `prompt` are given.
 *
 * @example
 * ```ts
 * process.exitCode = await runSession('examples/sessions/sprite.json', { out: 'a.gif', fps: 16 });
 * process.exitCode = await runSession(undefined, { prompt: 'red ball moving left', blocks: 16, out: 'a.mp4', scale: 4 });
 * ```
 */
export async function runSession(sessionArg: string | undefined, options: RunCommandOptions): Promise<number> {
  const natsFlags = (['natsUser', 'natsCreds', 'natsTlsCa', 'natsTlsCert', 'natsTlsKey', 'snapshotEvery', 'keyframeEvery'] as const).filter((k) => options[k] !== undefined);
  if (options.nats === undefined && natsFlags.length > 0) throw new RunUsageError(`--${natsFlags[0]?.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} applies to --nats only`);
  let natsAuth: NatsAuth | undefined;
  if (options.nats !== undefined) {
    try {
      natsAuth = natsAuthFromFlags(options, process.env);
    } catch (err) {
      throw new RunUsageError((err as Error).message);
    }
    // The workers were started with their model and lanes, and traces do not cross the wire.
    const flags = { model: '--model', lanes: '--lanes', trace: '--trace', chromeTrace: '--chrome-trace', inspect: '--inspect' } as const;
    const local = (Object.keys(flags) as (keyof typeof flags)[]).filter((k) => options[k] !== undefined && options[k] !== false);
    if (local.length > 0) throw new RunUsageError(`--nats runs on the cluster's workers: ${local.map((k) => flags[k]).join(', ')} ${local.length === 1 ? 'does' : 'do'} not apply (a worker's model and lanes are its own: block-cascade worker --model --lanes)`);
  }
  const { session, file } = await sessionSource(sessionArg, options);
  // Loaded lazily, like the runtime: `--help` must not pay for (or depend on) ONNX Runtime.
  const { planSession } = await import('../api/session-plan.js');
  // planSession reads only the overriding fields (lanes, seed, blocks, fps, cascade settings).
  const plan = await planSession(session, file, { ...options, describe: flagName });
  const request = plan.request;
  const scale = options.scale ?? 1;
  const out = options.out ?? (options.framesDir === undefined ? DEFAULT_OUT : undefined);
  // Created before the model loads so that a bad --fps, or a missing ffmpeg for .mp4/.webm,
  // fails at once rather than after the whole generation.
  const video: VideoOut | undefined = out === undefined
    ? undefined
    : videoFormatOf(out) === undefined
      ? new GifWriter(out, { fps: plan.fps })
      : new VideoWriter(out, { fps: plan.fps, encoder: findVideoEncoder(out) });
  const outputs = [out, options.framesDir === undefined ? undefined : `${options.framesDir}/`, options.trace, options.chromeTrace].filter((o) => o !== undefined);
  const setup: RunSetup = {
    model: shownPath(plan.runtime.model ?? defaultModelDir()),
    settings: plan.settings,
    lanes: typeof plan.runtime.lanes === 'number' ? plan.runtime.lanes : (plan.runtime.lanes?.length ?? 1),
    scale,
    ...(options.nats === undefined ? {} : { cluster: options.nats }),
  };

  // Checked before the model loads and the first forward: an unwritable output must not be
  // found after the whole generation.
  if (out !== undefined) await checkOutputFile(out);
  if (options.framesDir !== undefined) await checkOutputFolder(options.framesDir);

  const interrupt = onInterrupt();
  let runtime: Runtime | undefined;
  let cluster: Cluster | undefined;
  let placed: ClusterSession | undefined;
  const trace = await openTraceOutputs(options);
  if (trace.inspector) process.stderr.write(`block-cascade: inspector ${trace.inspector.url} (live)\n`);
  let interrupted = false;
  // Stdin carries the session itself with `run -`: no prompt switches are read from it then.
  const input = options.stdin === false || sessionArg === STDIN_SESSION ? null : process.stdin;
  try {
    let open: OpenSession;
    if (options.nats !== undefined) {
      const { connect } = await import('../cluster/client.js');
      cluster = await connect({ servers: options.nats, ...(natsAuth === undefined ? {} : { auth: natsAuth }), ...(options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery }), ...(options.keyframeEvery === undefined ? {} : { keyframeEvery: options.keyframeEvery }) });
      // The workers hold the model and the lanes; the generation settings travel with the session.
      const { cascade, steps, featureCache } = plan.runtime;
      const settings = { ...(cascade === undefined ? {} : { cascade }), ...(steps === undefined ? {} : { steps }), ...(featureCache === undefined ? {} : { featureCache }) };
      const connected = cluster;
      open = (r, o) => (placed = connected.session(r, { ...o, ...settings }));
    } else {
      // Loaded lazily: `--help` and session-file errors must not pay for (or depend on) ONNX Runtime.
      const { createRuntime } = await import('../api/runtime.js');
      // Loading can take a while for a real model: say what is being loaded (not with --quiet).
      const onLoad = options.quiet === true ? undefined : (e: LoadProgress) => process.stderr.write(`${loadLine(e)}\n`);
      const local = await createRuntime({ ...plan.runtime, ...(onLoad ? { onLoad } : {}) });
      runtime = local;
      open = (r, o) => local.session(r, o);
    }
    interrupt.signal.throwIfAborted();
    const outcome = await generateInto(open, request, interrupt.signal, { video, framesDir: options.framesDir, scale }, input, trace.sink, { quiet: options.quiet === true, allowUnknownWords: options.allowUnknownWords === true });
    await video?.finish();
    // A worker lost and replaced is invisible in the frames (they are the same): say so here.
    for (const f of placed?.failovers ?? []) process.stderr.write(`${failoverLine(f)}\n`);
    process.stderr.write(`${summary(setup, request, outcome, outputs)}\n`);
    const cached = featureCacheLine(setup.settings, outcome);
    if (cached !== null) process.stderr.write(`${cached}\n`);
    return 0;
  } catch (err) {
    interrupted = interrupt.signal.aborted;
    if (!interrupted) {
      await video?.abort?.();
      throw err;
    }
    // Ctrl-C or SIGTERM: the frames made so far are a video too, shorter.
    if (video !== undefined && video.frames > 0) {
      await video.finish();
      process.stderr.write(`block-cascade: stopped after ${video.frames} frames; wrote ${video.path}\n`);
    } else {
      await video?.abort?.();
    }
    return interrupt.exitCode;
  } finally {
    await runtime?.close();
    await cluster?.close();
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
    .description('generate a video from a session file, from a session file on stdin ("-"), or from --prompt alone')
    .argument('[session.json]', 'session file: { seed, blocks, prompt, model?, lanes?, parallelism?, attention?, exec?, recache?, steps?, fps?, timeline? }; "-" reads it from stdin (prompt switches are then not read from stdin); omit it with --prompt')
    .option('--prompt <text>', `generate without a session file: this prompt, with --seed (default 0), --blocks (default ${DEFAULT_PROMPT_BLOCKS}) and --model`)
    .option('--model <dir>', 'model package folder (overrides the session file; default: the bundled models/sprites)')
    .option('--out <video>', `write the video: .mp4 or .webm through ffmpeg (apt-get install ffmpeg), else an animated GIF (default ${DEFAULT_OUT} when --frames-dir is not given)`)
    .option('--frames-dir <dir>', 'write each frame as frame-00000.png, … into this folder')
    .option('--scale <n>', 'enlarge every output n times (1 to 16), each pixel an n×n block', parseScale, 1)
    .option('--quiet', 'no progress output (without a terminal, progress is a plain line every few seconds)')
    .option('--allow-unknown-words', "accept prompts with words the model does not know (by default they are refused, naming the words and the vocabulary)")
    .option('--lanes <n>', 'number of CPU lanes (overrides the session file)', parsePositiveInt)
    .option('--seed <s>', 'noise seed (overrides the session file)', parseNonNegativeInt)
    .option('--blocks <n>', 'number of blocks to generate (overrides the session file)', parsePositiveInt)
    .option('--fps <n>', `video frame rate: GIF playback and the clock of "atSecond" timeline entries (default: the session file's, else ${DEFAULT_FPS})`, parsePositiveNumber)
    .option('--trace <file.jsonl>', 'record actor states, lane activity, KV occupancy, switches and frames (open with block-cascade inspect)')
    .option('--chrome-trace <file.json>', 'also write the trace as Chrome trace-event JSON (Perfetto, chrome://tracing)')
    .option('--inspect', 'serve the inspector page on 127.0.0.1, live while generating, then until Ctrl-C')
    .option('--inspect-port <n>', 'port of --inspect (0 picks a free one)', parsePort, 0)
    .option('--nats <url>', 'run on a cluster: place the session on a block-cascade worker through this NATS server (docs/cluster.md); with --nats-user, --nats-creds, --nats-tls-*')
    .option('--snapshot-every <k>', 'with --nats: blocks between the snapshots a failover resumes from (default: 1 at parallelism 0 with keyframes, else 4; 0: none)', parseNonNegativeInt)
    .option('--keyframe-every <m>', 'with --nats, at parallelism 0: snapshots hold the K/V cache only every m blocks, those between the latents of the blocks since (default 16; 0: K/V in every snapshot)', parseNonNegativeInt)
    .option('--no-stdin', 'do not read prompt switches from stdin (by default each line switches the prompt; always off with "run -")');
  return addGenerationFlags(withNatsFlags(command), '(overrides the session file)').action(async (sessionArg: string | undefined, options: RunCommandOptions, self: Command) => {
      try {
        process.exitCode = await runSession(sessionArg, options);
      } catch (err) {
        // Commander prints it as the usage errors it finds itself (with the --help hint), exit 1.
        if (err instanceof RunUsageError) self.error(`error: ${err.message}`);
        reportError(err);
      }
    });
}
