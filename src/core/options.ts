/**
 * The one resolver of a generation's options. API calls, session files and CLI flags all end up
 * as a {@link GenerationInput} (later sources override earlier ones field by field), and
 * {@link resolveGeneration} checks it once, fills the defaults and derives the schedule.
 * Everything downstream takes its resolved, typed values and checks nothing again.
 *
 * Messages name the field path and what was expected: `option "switches[1].atBlock": expected
 * an integer in (3, 8) …, got 2`. Callers with a file (session files) prefix the file.
 */
import type { GenerateRequest, PromptSwitch } from './api-types.js';
import type { CascadeOptions, GenerationSettings, Parallelism, RecacheMode, SwitchMode } from './cascade-options.js';
import type { FeatureCacheOptions } from './feature-cache.js';
import type { LaneOptions } from './domain.js';
import { InvalidOptionError } from './errors.js';
import { SESSION_PRIORITIES } from './session-types.js';
import { cascadeSchedule, PARALLELISM_LEVELS, type CascadeSchedule } from './schedule.js';
import type { ExecutorInfo } from './tick.js';
import { FEATURE_CACHE_DEFAULTS, FEATURE_CACHE_POLICIES, FEATURE_CACHE_THRESHOLDS, NO_FEATURE_CACHE, type FeatureCacheSettings } from './feature-cache.js';

/** Scheduled prompt switches per generation: the context slab holds one slot per prompt. */
export const MAX_PROMPT_SWITCHES = 7;
/** The most denoising steps per block a generation may ask for. */
export const MAX_STEPS = 1000;
/** Longest prompt accepted (characters): a tokenizer keeps a few dozen words of it anyway. */
export const MAX_PROMPT_CHARS = 4096;

/**
 * Checks one prompt (the request's, a switch's, a live one).
 *
 * @throws {InvalidOptionError} naming `field` when it is not a string of at most {@link MAX_PROMPT_CHARS} characters.
 *
 * @example
 * ```ts
 * checkPrompt('switches[0].prompt', 'blue ball moving up');
 * ```
 */
export function checkPrompt(field: string, prompt: unknown): string {
  if (typeof prompt !== 'string') throw new InvalidOptionError(field, 'a string', prompt);
  if (prompt.length > MAX_PROMPT_CHARS) throw new InvalidOptionError(field, `a prompt of at most ${MAX_PROMPT_CHARS} characters`, `${prompt.length} characters`);
  return prompt;
}

/** The fields of each option object, for {@link checkFields}. */
export const OPTION_FIELDS = {
  request: ['seed', 'blocks', 'prompt', 'switches'],
  switch: ['atBlock', 'prompt'],
  cascade: ['parallelism', 'attention', 'exec', 'recache', 'switchMode', 'cascadeWindow'],
  generate: ['signal', 'onProgress', 'cascade', 'steps', 'featureCache', 'trace', 'allowUnknownWords', 'snapshots', 'resumeFrom'],
  session: ['signal', 'onProgress', 'cascade', 'steps', 'featureCache', 'trace', 'allowUnknownWords', 'maxBufferedBlocks', 'snapshots', 'resumeFrom', 'priority'],
  snapshots: ['every', 'onSnapshot', 'incremental', 'keyframeEvery'],
  runtime: ['model', 'lanes', 'cascade', 'steps', 'featureCache', 'warmUp', 'onLoad', 'onnxLogLevel', 'maxSessions', 'maxQueuedSessions', 'batchSessions', 'inspect', 'faults', 'fusedForward', 'runAhead', 'reuseRuns', 'groupKeys'],
} as const satisfies Record<string, readonly string[]>;

/**
 * Refuses fields an option object does not have, so that a typo from plain JavaScript
 * (`{ parallelsim: 4 }`) fails loudly instead of being ignored. `$schema` is always allowed
 * (editors add it to JSON files).
 *
 * @param prefix - Prepended to the field in the error (`cascade.`, `switches[0].`).
 * @throws {InvalidOptionError} naming the first unknown field and listing the known ones.
 *
 * @example
 * ```ts
 * checkFields({ parallelism: 4, parallelsim: 2 }, OPTION_FIELDS.cascade, 'cascade.'); // throws: option "cascade.parallelsim": expected no such field …
 * ```
 */
export function checkFields(value: unknown, fields: readonly string[], prefix = ''): void {
  if (!isPlainObject(value)) return;
  const unknown = Object.keys(value).find((key) => key !== '$schema' && !fields.includes(key));
  if (unknown !== undefined) throw new InvalidOptionError(`${prefix}${unknown}`, `no such field (${fields.join(', ')})`, value[unknown]);
}

/**
 * Refuses unknown fields of `generate`/`session` options (and of their `cascade`).
 *
 * @throws {InvalidOptionError} naming the field (`cascade.parallelsim`).
 *
 * @example
 * ```ts
 * checkGenerateOptions({ steps: 8, cascade: { parallelism: 4 } }, 'generate'); // passes
 * ```
 */
export function checkGenerateOptions(options: unknown, kind: 'generate' | 'session'): void {
  if (options === undefined) return;
  if (!isPlainObject(options)) throw new InvalidOptionError('options', 'an object', options);
  checkFields(options, OPTION_FIELDS[kind]);
  checkCascade(options['cascade']);
  const allow = options['allowUnknownWords'];
  if (allow !== undefined && typeof allow !== 'boolean') throw new InvalidOptionError('allowUnknownWords', 'a boolean', allow);
  checkSnapshotOptions(options['snapshots'], options['resumeFrom']);
  checkPriority(options['priority']);
}

/**
 * Refuses a session priority other than `'high'` or `'normal'`.
 *
 * @throws {InvalidOptionError} naming the `priority` field.
 *
 * @example
 * ```ts
 * checkPriority('high'); // passes
 * checkPriority('urgent'); // throws: option "priority": expected 'high' or 'normal'
 * ```
 */
export function checkPriority(priority: unknown): void {
  if (priority !== undefined && !(SESSION_PRIORITIES as readonly unknown[]).includes(priority)) throw new InvalidOptionError('priority', SESSION_PRIORITIES.map((level) => `'${level}'`).join(' or '), priority);
}

/** `snapshots` and `resumeFrom` as `checkGenerateOptions` wants them (their contents are read by the generation). */
function checkSnapshotOptions(snapshots: unknown, resumeFrom: unknown): void {
  if (snapshots !== undefined) {
    if (!isPlainObject(snapshots)) throw new InvalidOptionError('snapshots', 'an object { every, onSnapshot }', snapshots);
    checkFields(snapshots, OPTION_FIELDS.snapshots, 'snapshots.');
    const every = snapshots['every'];
    if (typeof every !== 'number' || !Number.isSafeInteger(every) || every < 1) throw new InvalidOptionError('snapshots.every', 'a positive integer (blocks between snapshots)', every);
    const onSnapshot = snapshots['onSnapshot'];
    if (typeof onSnapshot !== 'function') throw new InvalidOptionError('snapshots.onSnapshot', 'a function', typeof onSnapshot);
    const incremental = snapshots['incremental'];
    if (incremental !== undefined && !(isPlainObject(incremental) && typeof incremental['kept'] === 'function')) {
      throw new InvalidOptionError('snapshots.incremental', 'an object { kept(seq) } (whether an earlier snapshot is still kept)', incremental);
    }
    const keyframeEvery = snapshots['keyframeEvery'];
    if (keyframeEvery !== undefined) {
      if (typeof keyframeEvery !== 'number' || !Number.isSafeInteger(keyframeEvery) || keyframeEvery < 1) throw new InvalidOptionError('snapshots.keyframeEvery', 'a positive integer (blocks between K/V keyframes)', keyframeEvery);
      // Between keyframes a snapshot refers to the keyframe's rows: only an incremental chain can.
      if (incremental === undefined) throw new InvalidOptionError('snapshots.keyframeEvery', 'used with snapshots.incremental (a snapshot between keyframes refers to the keyframe)', keyframeEvery);
    }
  }
  if (resumeFrom !== undefined && !(resumeFrom instanceof Uint8Array)) throw new InvalidOptionError('resumeFrom', "a Uint8Array (a snapshot's bytes)", typeof resumeFrom);
}

/**
 * Refuses unknown fields of `createRuntime` options (and of their `cascade`).
 *
 * @throws {InvalidOptionError} naming the field (`warmup`).
 *
 * @example
 * ```ts
 * checkRuntimeOptions({ lanes: 2, warmUp: false }); // passes
 * ```
 */
export function checkRuntimeOptions(options: unknown): void {
  if (options === undefined) return;
  if (!isPlainObject(options)) throw new InvalidOptionError('options', 'an object', options);
  checkFields(options, OPTION_FIELDS.runtime);
  checkCascade(options['cascade']);
  const model = options['model'];
  if (model !== undefined && typeof model !== 'string') throw new InvalidOptionError('model', 'the path of a model folder (a string)', model);
  for (const flag of ['warmUp', 'batchSessions', 'fusedForward', 'runAhead', 'reuseRuns', 'groupKeys'] as const) {
    const value = options[flag];
    if (value !== undefined && typeof value !== 'boolean') throw new InvalidOptionError(flag, 'true or false', value);
  }
  const onLoad = options['onLoad'];
  if (onLoad !== undefined && typeof onLoad !== 'function') throw new InvalidOptionError('onLoad', 'a function', typeof onLoad);
  const inspect = options['inspect'];
  if (inspect !== undefined && typeof inspect !== 'function' && !(typeof inspect === 'object' && inspect !== null && typeof (inspect as { next?: unknown }).next === 'function')) {
    throw new InvalidOptionError('inspect', 'an inspection observer (a function, or an object with next)', inspect);
  }
  const faults = options['faults'];
  if (faults !== undefined && !Array.isArray(faults)) throw new InvalidOptionError('faults', 'an array of lane faults', faults);
  const maxSessions = options['maxSessions'];
  if (maxSessions !== undefined && (typeof maxSessions !== 'number' || !Number.isInteger(maxSessions) || maxSessions < 1 || maxSessions > 1024)) throw new InvalidOptionError('maxSessions', 'an integer from 1 to 1024', maxSessions);
  const maxQueued = options['maxQueuedSessions'];
  if (maxQueued !== undefined && (typeof maxQueued !== 'number' || !Number.isInteger(maxQueued) || maxQueued < 0 || maxQueued > 1_000_000)) throw new InvalidOptionError('maxQueuedSessions', 'an integer from 0 to 1000000', maxQueued);
}

/** `cascade` of runtime, generate and session options: an object, with no field it does not know. */
function checkCascade(cascade: unknown): void {
  if (cascade !== undefined && !isPlainObject(cascade)) throw new InvalidOptionError('cascade', `an object { ${OPTION_FIELDS.cascade.join(', ')} }`, cascade);
  checkFields(cascade, OPTION_FIELDS.cascade, 'cascade.');
}

/** Sequential generation: the default cascade settings. */
export const SEQUENTIAL_CASCADE: CascadeOptions = { parallelism: 0, attention: 'bidirectional', exec: 'joint', recache: 'on', switchMode: 'at-block', cascadeWindow: 'extended' };

/** A generation's settings as given: any subset, from any source, not checked yet. */
export type GenerationInput = { readonly [K in Exclude<keyof GenerationSettings, 'featureCache'>]?: GenerationSettings[K] | undefined } & {
  readonly featureCache?: FeatureCacheOptions | undefined;
};
/** The same, untyped: what a session file or a command line hands over before the resolver. */
export type UncheckedInput = { readonly [K in keyof GenerationSettings]?: unknown };

/** What the resolver needs to know of the runtime: its lanes, executors and model defaults. */
export interface ResolveContext {
  readonly lanes: number;
  /** The registered execution modes. */
  readonly executors: readonly ExecutorInfo[];
  /** The model's sampler steps (`sampler.timesteps.length`). */
  readonly defaultSteps: number;
  /** The model's `kv.recache`: the default at P0. */
  readonly defaultRecache?: RecacheMode;
  /** Whether the model ships layered graphs. */
  readonly layered?: boolean;
  /**
   * Checks a prompt's words against the model (its vocabulary and token limit), throwing an
   * InvalidOptionError that names `field`. The api layer supplies it from the tokenizer, which
   * this layer cannot import.
   */
  readonly checkWords?: (field: string, prompt: string) => void;
}

/** A generation ready to run: checked request and settings, and the schedule they give. */
export interface ResolvedGeneration {
  readonly request: Required<GenerateRequest>;
  readonly settings: GenerationSettings;
  readonly schedule: CascadeSchedule;
}

/** An object that is not null or an array: what an options argument must be. */
export const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Merges settings from several sources, later ones winning field by field; undefined keeps
 * what came before. Object settings (`featureCache`) merge field by field too.
 *
 * @example
 * ```ts
 * mergeSettings({ parallelism: 4 }, { parallelism: undefined, exec: 'lanes' }); // { parallelism: 4, exec: 'lanes' }
 * mergeSettings({ featureCache: { policy: 'bwcache' } }, { featureCache: { threshold: 0.1 } }); // { featureCache: { policy: 'bwcache', threshold: 0.1 } }
 * ```
 */
export function mergeSettings(...sources: readonly (UncheckedInput | undefined)[]): UncheckedInput {
  const merged: Record<string, unknown> = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source ?? {})) {
      if (value === undefined) continue;
      const before = merged[key];
      merged[key] = isPlainObject(before) && isPlainObject(value) ? mergeSettings(before as UncheckedInput, value as UncheckedInput) : value;
    }
  }
  return merged as UncheckedInput;
}

/**
 * Checks feature-cache settings and fills their defaults (`core/feature-cache.ts`).
 *
 * @throws {InvalidOptionError} naming the field (`featureCache.interval`).
 *
 * @example
 * ```ts
 * resolveFeatureCache({ policy: 'bwcache' }); // { policy: 'bwcache', threshold: 0.15, interval: 3, lastStep: 0.5 }
 * ```
 */
export function resolveFeatureCache(input: unknown): FeatureCacheSettings {
  if (input === undefined) return NO_FEATURE_CACHE;
  if (!isPlainObject(input)) throw new InvalidOptionError('featureCache', '{ policy, threshold?, interval?, lastStep? }', input);
  const { policy = 'none', threshold: givenThreshold, interval = FEATURE_CACHE_DEFAULTS.interval, lastStep = FEATURE_CACHE_DEFAULTS.lastStep, coefficients, ...rest } = input;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new InvalidOptionError(`featureCache.${unknown}`, 'no such field (policy, threshold, interval, lastStep, coefficients)', rest[unknown]);
  if (!(FEATURE_CACHE_POLICIES as readonly unknown[]).includes(policy)) {
    throw new InvalidOptionError('featureCache.policy', FEATURE_CACHE_POLICIES.map((p) => `"${p}"`).join(' or '), policy);
  }
  const threshold = givenThreshold ?? (policy === 'none' ? FEATURE_CACHE_DEFAULTS.threshold : FEATURE_CACHE_THRESHOLDS[policy as keyof typeof FEATURE_CACHE_THRESHOLDS]);
  if (coefficients !== undefined && (!Array.isArray(coefficients) || coefficients.length === 0 || !coefficients.every((c) => typeof c === 'number' && Number.isFinite(c)))) {
    throw new InvalidOptionError('featureCache.coefficients', 'a non-empty array of finite numbers (the teacache polynomial, highest degree first)', coefficients);
  }
  if (typeof threshold !== 'number' || !Number.isFinite(threshold) || threshold < 0) throw new InvalidOptionError('featureCache.threshold', 'a non-negative number (δ)', threshold);
  if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 1) throw new InvalidOptionError('featureCache.interval', 'a positive integer (R, steps reused between computed ones)', interval);
  if (typeof lastStep !== 'number' || !Number.isFinite(lastStep) || lastStep < 0 || (lastStep >= 1 && !Number.isInteger(lastStep))) {
    throw new InvalidOptionError('featureCache.lastStep', 'a number in [0, 1) (a share of the trigger step) or an integer ≥ 1 (steps)', lastStep);
  }
  if (policy === 'teacache') return { policy, threshold, ...(coefficients ? { coefficients: [...(coefficients as number[])] } : {}) };
  if (policy === 'fbcache') return { policy, threshold };
  return policy === 'none' ? NO_FEATURE_CACHE : { policy: 'bwcache', threshold, interval, lastStep };
}

/**
 * Checks settings and fills their defaults: cascade level, attention, execution mode (one of
 * the registered ones, with the lanes it needs), re-cache (the model's default at P0, `off` in a
 * cascade, where `on` is an error), steps (the model's sampler by default) and the feature cache
 * (policy `none` by default; another policy needs a mode that reuses features and, when no mode
 * is given, takes the reusing mode with the fewest lanes, `layered`).
 *
 * @throws {InvalidOptionError} naming the field and what was expected.
 *
 * @example
 * ```ts
 * resolveSettings({ parallelism: 4, exec: 'lanes' }, { lanes: 2, executors: EXECUTORS, defaultSteps: 4 });
 * // { parallelism: 4, attention: 'bidirectional', exec: 'lanes', recache: 'off', switchMode: 'at-block', cascadeWindow: 'extended', steps: 4, featureCache: { policy: 'none' } }
 * ```
 */
export function resolveSettings(input: UncheckedInput | undefined, context: ResolveContext): GenerationSettings {
  const featureCache = resolveFeatureCache(input?.featureCache);
  if (featureCache.policy !== 'none' && context.layered === false) {
    throw new InvalidOptionError('featureCache.policy', `"none" for this model (${featureCache.policy} runs the layered graphs, which the model does not ship)`, featureCache.policy);
  }
  // With a feature cache and no mode asked for, the reusing mode with the fewest lanes
  // (`layered`: one lane per tick); a mode asked for must reuse features.
  const reusing = [...context.executors].filter((e) => e.needs.reusesFeatures).sort((a, b) => a.needs.minLanes - b.needs.minLanes);
  const cachedExec = featureCache.policy !== 'none' && input?.exec === undefined ? reusing[0]?.name : undefined;
  const merged: Record<keyof CascadeOptions, unknown> = { ...SEQUENTIAL_CASCADE, ...mergeSettings(input), ...(cachedExec === undefined ? {} : { exec: cachedExec }) };
  const { parallelism, attention, exec, switchMode, cascadeWindow } = merged;
  if (!(PARALLELISM_LEVELS as readonly unknown[]).includes(parallelism)) {
    throw new InvalidOptionError('parallelism', 'an integer from 0 to 4', parallelism);
  }
  if (attention !== 'causal' && attention !== 'bidirectional') throw new InvalidOptionError('attention', '"causal" or "bidirectional"', attention);
  if (switchMode !== 'at-block' && switchMode !== 'in-flight') throw new InvalidOptionError('switchMode', '"at-block" or "in-flight"', switchMode);
  if (cascadeWindow !== 'extended' && cascadeWindow !== 'trained') throw new InvalidOptionError('cascadeWindow', '"extended" or "trained"', cascadeWindow);
  if (typeof exec !== 'string') throw new InvalidOptionError('exec', `one of ${context.executors.map((e) => `"${e.name}"`).join(', ')}`, exec);
  const executor = context.executors.find((e) => e.name === exec);
  if (!executor) throw new InvalidOptionError('exec', `one of ${context.executors.map((e) => `"${e.name}"`).join(', ')}`, exec);
  if (context.lanes < executor.needs.minLanes) {
    throw new InvalidOptionError('exec', `a mode that runs on ${context.lanes} lane ("${exec}" needs ${executor.needs.minLanes}: ${executor.description})`, exec);
  }
  const required = parallelism === 0 ? {} : (executor.needs.requires ?? {});
  for (const [field, value] of Object.entries(required) as [keyof typeof required, string][]) {
    const given = { attention, cascadeWindow, switchMode }[field];
    if (given !== value) throw new InvalidOptionError(field, `"${value}" with exec "${exec}" in a cascade (${executor.description})`, given);
  }
  if (executor.needs.layered && context.layered === false) {
    throw new InvalidOptionError('exec', `a mode this model supports ("${exec}" needs the layered graphs, which the model does not ship)`, exec);
  }
  if (featureCache.policy !== 'none' && !executor.needs.reusesFeatures) {
    const names = reusing.map((e) => `"${e.name}"`).join(' or ');
    throw new InvalidOptionError('exec', `a mode that reuses features (${names === '' ? 'none is registered' : names}) with featureCache.policy "${featureCache.policy}"`, exec);
  }
  const recache = input?.recache ?? (parallelism === 0 ? (context.defaultRecache ?? 'on') : 'off');
  if (recache !== 'on' && recache !== 'off') throw new InvalidOptionError('recache', '"on" or "off"', recache);
  if (recache === 'on' && parallelism !== 0) {
    throw new InvalidOptionError('recache', `"off" at P${parallelism} (a cascade switches prompts without re-cache; re-cache is for P0)`, recache);
  }
  const steps = input?.steps ?? context.defaultSteps;
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) throw new InvalidOptionError('steps', `an integer from 1 to ${MAX_STEPS}`, steps);
  return { parallelism: parallelism as Parallelism, attention, exec, recache, switchMode, cascadeWindow, steps, featureCache };
}

/**
 * Checks a generation request: seed, block count, prompt and scheduled switches, and with
 * `checkWords` (the model's tokenizer check) every prompt's words. Unknown fields are refused.
 *
 * @throws {InvalidOptionError} naming the field (`switches[1].atBlock`) and what was expected.
 *
 * @example
 * ```ts
 * resolveRequest({ seed: 1, blocks: 8, prompt: 'red ball moving left' }).switches; // []
 * ```
 */
export function resolveRequest(request: GenerateRequest, checkWords?: ResolveContext['checkWords']): Required<GenerateRequest> {
  if (request === null || typeof request !== 'object') throw new InvalidOptionError('request', 'an object { seed, blocks, prompt, switches? }', request);
  checkFields(request, OPTION_FIELDS.request);
  if (!Number.isSafeInteger(request.seed) || request.seed < 0) throw new InvalidOptionError('seed', 'a non-negative safe integer', request.seed);
  if (!Number.isInteger(request.blocks) || request.blocks < 1) throw new InvalidOptionError('blocks', 'a positive integer', request.blocks);
  checkPrompt('prompt', request.prompt);
  const switches = request.switches ?? [];
  if (!Array.isArray(switches)) throw new InvalidOptionError('switches', 'an array of { atBlock, prompt }', switches);
  if (switches.length > MAX_PROMPT_SWITCHES) throw new InvalidOptionError('switches', `at most ${MAX_PROMPT_SWITCHES} prompt switches`, switches.length);
  switches.forEach((s: PromptSwitch, i) => {
    if (!isPlainObject(s)) throw new InvalidOptionError(`switches[${i}]`, 'an object { atBlock, prompt }', s);
    checkFields(s, OPTION_FIELDS.switch, `switches[${i}].`);
    const after = i === 0 ? 0 : (switches[i - 1] as PromptSwitch).atBlock;
    if (!Number.isInteger(s.atBlock) || s.atBlock <= after || s.atBlock >= request.blocks) {
      throw new InvalidOptionError(`switches[${i}].atBlock`, `an integer in (${after}, ${request.blocks}) (after the previous switch, before the end)`, s.atBlock);
    }
    checkPrompt(`switches[${i}].prompt`, s.prompt);
  });
  // Words last: a request that is wrong in shape is named for its shape first.
  if (checkWords) checkRequestWords(request, checkWords);
  return { seed: request.seed, blocks: request.blocks, prompt: request.prompt, switches };
}

/** Checks the words of a request's prompt and its switches' prompts. */
function checkRequestWords(request: GenerateRequest, checkWords: NonNullable<ResolveContext['checkWords']>): void {
  checkWords('prompt', request.prompt);
  (request.switches ?? []).forEach((s, i) => checkWords(`switches[${i}].prompt`, s.prompt));
}

/**
 * Resolves one generation: its request and its settings (the sources merged, later winning),
 * and the cascade schedule they give.
 *
 * @example
 * ```ts
 * const { settings, schedule } = resolveGeneration(request, [runtimeDefaults, { parallelism: 4, steps: 32 }], context);
 * schedule.lag; // 7
 * ```
 */
export function resolveGeneration(request: GenerateRequest, sources: readonly (UncheckedInput | undefined)[], context: ResolveContext): ResolvedGeneration {
  const resolvedRequest = resolveRequest(request);
  const settings = resolveSettings(mergeSettings(...sources), context);
  if (context.checkWords) checkRequestWords(resolvedRequest, context.checkWords);
  return { request: resolvedRequest, settings, schedule: cascadeSchedule(settings.steps, settings.parallelism) };
}

/** Real lanes allowed per core of this machine: each is a worker thread with its own ONNX sessions. */
export const MAX_LANES_PER_CORE = 4;
/** Environment variable that sets another upper bound on real lanes (a positive integer). */
export const MAX_LANES_ENV = 'BLOCK_CASCADE_MAX_LANES';

/**
 * The most real lanes a runtime may start on a machine of `cores` cores:
 * {@link MAX_LANES_PER_CORE} per core, or `override` (the value of `BLOCK_CASCADE_MAX_LANES`)
 * when it is a positive integer. The simulator's virtual lanes are not limited.
 *
 * @example
 * ```ts
 * maxLanes(os.availableParallelism(), process.env.BLOCK_CASCADE_MAX_LANES); // 64 on 16 cores
 * ```
 */
export function maxLanes(cores: number, override?: string): number {
  const set = Number(override);
  return override !== undefined && Number.isInteger(set) && set > 0 ? set : MAX_LANES_PER_CORE * Math.max(1, cores);
}

/**
 * The lanes of a runtime: a count of CPU lanes (one thread each) or explicit lane options.
 * At most `max` (the runtime passes {@link maxLanes}): a thousand lanes would start a thousand threads.
 *
 * @example
 * ```ts
 * resolveLanes(2); // [{ device: 'cpu', threads: 1 }, { device: 'cpu', threads: 1 }]
 * ```
 */
export function resolveLanes(lanes: number | readonly LaneOptions[] | undefined, max = Number.POSITIVE_INFINITY): readonly LaneOptions[] {
  if (lanes === undefined) return [{ device: 'cpu', threads: 1 }];
  if (typeof lanes === 'number') {
    if (!Number.isInteger(lanes) || lanes < 1) throw new InvalidOptionError('lanes', 'a positive integer', lanes);
    if (lanes > max) throw new InvalidOptionError('lanes', `at most ${max} (${MAX_LANES_PER_CORE} per core; ${MAX_LANES_ENV} raises it)`, lanes);
    return Array.from({ length: lanes }, () => ({ device: 'cpu', threads: 1 }) as const);
  }
  if (!Array.isArray(lanes) || lanes.length === 0) throw new InvalidOptionError('lanes', 'a positive integer or at least one { device, threads }', lanes);
  if (lanes.length > max) throw new InvalidOptionError('lanes', `at most ${max} lanes (${MAX_LANES_PER_CORE} per core; ${MAX_LANES_ENV} raises it)`, `${lanes.length} lanes`);
  lanes.forEach((lane, i) => {
    if (!/^(cpu|cuda:\d+)$/.test(String(lane?.device))) throw new InvalidOptionError(`lanes[${i}].device`, '"cpu" or "cuda:N"', lane?.device);
    if (!Number.isInteger(lane.threads) || lane.threads < 1) throw new InvalidOptionError(`lanes[${i}].threads`, 'a positive integer', lane.threads);
  });
  return lanes;
}
