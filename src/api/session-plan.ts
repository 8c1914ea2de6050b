/**
 * From a session file to what the runtime takes: runtime options, cascade settings and a
 * generation request, with command-line overrides applied and timeline times placed on blocks.
 * Shared by `block-cascade run` and scripts, so both read a session file the same way.
 */
import { DEFAULT_FPS, resolveTimeline, type SessionFile } from '../protocol/session-file.js';
import type { GenerateRequest, RuntimeOptions } from '../core/api-types.js';
import type { CascadeOptions } from '../core/cascade-options.js';
import { readManifest } from '../engine/model/loader.js';
import { defaultModelDir } from '../engine/model/paths.js';

/** Settings that override the session file's (e.g. command-line flags); undefined keeps the file's. */
export interface SessionOverrides extends Partial<CascadeOptions> {
  readonly lanes?: number;
  readonly seed?: number;
  readonly blocks?: number;
  readonly fps?: number;
}

/** What to run for a session file. */
export interface SessionPlan {
  readonly runtime: RuntimeOptions;
  /** Cascade settings given by the file or the overrides (the runtime fills the rest). */
  readonly cascade: Partial<CascadeOptions>;
  /** Blocks as asked, cut at the timeline's stop. */
  readonly request: GenerateRequest;
  readonly fps: number;
}

const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/**
 * Plans a decoded session file. Reads the model's manifest (not its graphs) to place timeline
 * entries given in seconds, so a timeline that does not fit fails before any lane starts.
 *
 * @param file - The session file, for error messages.
 * @throws {SessionFileError} when a timeline entry lands outside the video or out of order.
 * @throws {ModelPackageError} when the model's manifest cannot be read.
 *
 * @example
 * ```ts
 * const plan = await planSession(await loadSessionFile('switch.json'), 'switch.json', { lanes: 2 });
 * const runtime = await createRuntime(plan.runtime);
 * for await (const frame of runtime.generate(plan.request, { cascade: plan.cascade })) show(frame);
 * ```
 */
export async function planSession(session: SessionFile, file: string, overrides: SessionOverrides = {}): Promise<SessionPlan> {
  const blocks = overrides.blocks ?? session.blocks;
  const fps = overrides.fps ?? session.fps ?? DEFAULT_FPS;
  const manifest = await readManifest(session.model ?? defaultModelDir());
  const { switches, stopAtBlock } = resolveTimeline({ blocks, ...(session.timeline ? { timeline: session.timeline } : {}) }, { framesPerBlock: manifest.framesPerBlock, fps }, file);
  const lanes = overrides.lanes ?? session.lanes;
  const cascade = defined({
    parallelism: overrides.parallelism ?? session.parallelism,
    attention: overrides.attention ?? session.attention,
    exec: overrides.exec ?? session.exec,
    recache: overrides.recache ?? session.recache,
  });
  return {
    runtime: { ...(session.model === undefined ? {} : { model: session.model }), ...(lanes === undefined ? {} : { lanes }), cascade },
    cascade,
    request: {
      seed: overrides.seed ?? session.seed,
      // A timeline stop ends the video at its block (whatever the overrides say).
      blocks: stopAtBlock === undefined ? blocks : Math.min(blocks, stopAtBlock),
      prompt: session.prompt,
      ...(switches.length === 0 ? {} : { switches }),
    },
    fps,
  };
}
