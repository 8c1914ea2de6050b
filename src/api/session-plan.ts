/**
 * From a session file to what the runtime takes: runtime options, cascade settings and a
 * generation request, with command-line overrides applied and timeline times placed on blocks.
 * Shared by `block-cascade run` and scripts, so both read a session file the same way.
 */
import { DEFAULT_FPS, resolveTimeline, SessionFileError, type SessionFile } from '../protocol/session-file.js';
import { show } from '../protocol/json-value.js';
import type { GenerateRequest, RuntimeOptions } from '../core/api-types.js';
import type { CascadeOptions, GenerationSettings } from '../core/cascade-options.js';
import { InvalidOptionError } from '../core/errors.js';
import type { FeatureCacheOptions } from '../core/feature-cache.js';
import { MAX_PROMPT_SWITCHES, mergeSettings, resolveSettings, type UncheckedInput } from '../core/options.js';
import { readManifest } from '../engine/model/loader.js';
import { checkPromptWords } from '../engine/model/tokenizer.js';
import { defaultModelDir } from '../engine/model/paths.js';
import { resolveContextFor } from './resolve-context.js';

/** Settings that override the session file's (e.g. command-line flags); undefined keeps the file's. */
export interface SessionOverrides extends UncheckedInput {
  readonly lanes?: number | undefined;
  readonly seed?: number | undefined;
  readonly blocks?: number | undefined;
  readonly fps?: number | undefined;
  /** Read words the model does not know as `<unk>` instead of refusing the session (default false). */
  readonly allowUnknownWords?: boolean | undefined;
  /** How an override is named in messages (`--parallelism`); default `option "parallelism"`. */
  readonly describe?: (field: string) => string;
}

/** What to run for a session file. */
export interface SessionPlan {
  /** Runtime options, carrying the file's and the overrides' settings as its defaults. */
  readonly runtime: RuntimeOptions;
  /** The settings, resolved (defaults filled, checked once). */
  readonly settings: GenerationSettings;
  /** Blocks as asked, cut at the timeline's stop. */
  readonly request: GenerateRequest;
  readonly fps: number;
}

const SETTING_KEYS = ['parallelism', 'attention', 'exec', 'recache', 'switchMode', 'cascadeWindow', 'steps', 'featureCache'] as const;

/** The value at a dotted field path (`featureCache.threshold`), or undefined. */
const valueAt = (source: object, path: string): unknown => path.split('.').reduce<unknown>((o, key) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined), source);

/**
 * Plans a decoded session file. Reads the model's manifest (not its graphs) to place timeline
 * entries given in seconds and to resolve the settings, so a session that cannot run fails
 * before any lane starts, naming the file and field (or the overriding flag).
 *
 * @param file - The session file, for error messages.
 * @throws {SessionFileError} when a timeline entry lands outside the video or out of order, or a
 *   setting is not one the resolver accepts.
 * @throws {ModelPackageError} when the model's manifest cannot be read.
 *
 * @example
 * ```ts
 * const plan = await planSession(await loadSessionFile('switch.json'), 'switch.json', { lanes: 2, steps: 8 });
 * const runtime = await createRuntime(plan.runtime);
 * for await (const frame of runtime.generate(plan.request)) show(frame);
 * ```
 */
export async function planSession(session: SessionFile, file: string, overrides: SessionOverrides = {}): Promise<SessionPlan> {
  const blocks = overrides.blocks ?? session.blocks;
  const fps = overrides.fps ?? session.fps ?? DEFAULT_FPS;
  const manifest = await readManifest(session.model ?? defaultModelDir());
  const { switches, stopAtBlock } = resolveTimeline({ blocks, ...(session.timeline ? { timeline: session.timeline } : {}) }, { framesPerBlock: manifest.framesPerBlock, fps }, file);
  // Named here by the file and field, rather than later by the request's `switches`.
  if (switches.length > MAX_PROMPT_SWITCHES) {
    throw new SessionFileError('E_SESSION_INVALID', file, [{ field: 'timeline', message: `${file}: field "timeline": expected at most ${MAX_PROMPT_SWITCHES} prompt switches, got ${switches.length}` }]);
  }
  checkSessionWords(session, file, manifest.text, overrides.allowUnknownWords === true);
  const lanes = overrides.lanes ?? session.lanes;
  const given = mergeSettings(pick(session), pick(overrides));
  let settings: GenerationSettings;
  try {
    settings = resolveSettings(given, resolveContextFor(manifest, lanes ?? 1));
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    const field = error.option;
    const where = valueAt(overrides, field) !== undefined
      ? (overrides.describe?.(field) ?? `option "${field}"`)
      : `${file}: field "${field}"`;
    throw new SessionFileError('E_SESSION_INVALID', file, [{ field, message: `${where}: expected ${error.expected}, got ${show(error.got)}` }], { cause: error });
  }
  return {
    runtime: { ...(session.model === undefined ? {} : { model: session.model }), ...(lanes === undefined ? {} : { lanes }), cascade: cascadeOf(given), ...(given.steps === undefined ? {} : { steps: given.steps as number }), ...(given.featureCache === undefined ? {} : { featureCache: given.featureCache as FeatureCacheOptions }) },
    settings,
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

/**
 * Checks the session's prompts (its own and the timeline's) against the model, before any
 * lane starts, through the one tokenizer check the runtime uses.
 *
 * @throws {SessionFileError} naming the file and field (`timeline[2].prompt`), the unknown words
 *   and the vocabulary, or the token limit; its `cause` is the tokenizer's typed error.
 */
function checkSessionWords(session: SessionFile, file: string, text: Parameters<typeof checkPromptWords>[2], allowUnknownWords: boolean): void {
  const prompts: [string, string][] = [['prompt', session.prompt]];
  (session.timeline ?? []).forEach((entry, i) => entry.prompt !== undefined && prompts.push([`timeline[${i}].prompt`, entry.prompt]));
  for (const [field, prompt] of prompts) {
    try {
      checkPromptWords(field, prompt, text, { allowUnknownWords });
    } catch (error) {
      if (!(error instanceof InvalidOptionError)) throw error;
      throw new SessionFileError('E_SESSION_INVALID', file, [{ field, message: `${file}: field ${error.message.slice('option '.length)}` }], { cause: error });
    }
  }
}

/** The cascade settings among the given ones. */
function cascadeOf(given: UncheckedInput): Partial<CascadeOptions> {
  const { steps: _steps, featureCache: _featureCache, ...cascade } = given;
  return cascade as Partial<CascadeOptions>;
}

/** The generation settings of a source, without its other fields. */
function pick(source: UncheckedInput): UncheckedInput {
  return Object.fromEntries(SETTING_KEYS.filter((k) => source[k] !== undefined).map((k) => [k, source[k]]));
}
