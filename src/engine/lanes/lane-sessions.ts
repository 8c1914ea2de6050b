/**
 * The ONNX Runtime sessions a lane holds, on the lane's device: the package's three graphs
 * (created by the start-up ping; a CPU lane's through the optimised copies of
 * `model/optimised-graphs.ts`), and the graphs only some settings run, each created on the
 * first task that needs it: the layered model (`lanes` ticks), and the graphs merged from it in
 * memory for feature caching (`model/fused-graph.ts`, `model/reuse-run-graph.ts`), each run once
 * on zero inputs when created so that the task that needed it does not pay for onnxruntime's
 * first-run planning twice.
 */
import * as ort from 'onnxruntime-node';
import type { ModelManifest } from '../../core/manifest-types.js';
import { buildFirstLayerGraph, buildFusedGraph, buildReuseGraph } from '../model/fused-graph.js';
import { buildReuseRunGraph, type RunUpdate } from '../model/reuse-run-graph.js';
import { createOptimised } from '../model/optimised-graphs.js';
import { executionProviderProblem, explainProviderError, onnxLogSeverity, type OnnxLogLevel } from './execution-provider.js';
import type { LayeredSessions } from './share-tick.js';
import { warmFused, warmReuse, warmReuseRun } from './warm-up.js';
import type { LaneWorkerInit } from './worker-data.js';

/** The package's own graphs, which every lane loads. */
export interface PackageSessions {
  readonly denoiser: ort.InferenceSession;
  readonly textEncoder: ort.InferenceSession;
  readonly vaeDecoder: ort.InferenceSession;
}

/**
 * A lane's sessions, each created once.
 *
 * @example
 * ```ts
 * const sessions = new LaneSessions(workerData as LaneWorkerInit, 'warning');
 * const { denoiser } = await sessions.package();
 * ```
 */
export class LaneSessions {
  readonly #data: LaneWorkerInit;
  readonly #m: ModelManifest;
  readonly #logLevel: OnnxLogLevel;
  #package: Promise<PackageSessions> | null = null;
  #layered: Promise<LayeredSessions> | null = null;
  #embedOnly: Promise<ort.InferenceSession> | null = null;
  #fused: Promise<ort.InferenceSession> | null = null;
  #firstLayer: Promise<ort.InferenceSession> | null = null;
  #reuse: Promise<ort.InferenceSession> | null = null;
  readonly #reuseRuns = new Map<string, Promise<ort.InferenceSession>>();

  constructor(data: LaneWorkerInit, logLevel: OnnxLogLevel) {
    this.#data = data;
    this.#m = data.manifest;
    this.#logLevel = logLevel;
  }

  /** The denoiser, text encoder and VAE decoder (the start-up ping creates them). */
  package(): Promise<PackageSessions> {
    this.#package ??= (async () => {
      const files = this.#data.files;
      const [denoiser, textEncoder, vaeDecoder] = await Promise.all([this.#create(files.denoiser), this.#create(files.textEncoder), this.#create(files.vaeDecoder)]);
      return { denoiser, textEncoder, vaeDecoder };
    })();
    return this.#package;
  }

  /** The layered model, loaded on the first `lanes` tick only (joint ticks never need it). */
  layered(): Promise<LayeredSessions> {
    this.#layered ??= (async () => {
      const files = this.#data.files.layered;
      const [embed, head, layers, keyValues] = await Promise.all([
        this.#create(files.embed),
        this.#create(files.head),
        Promise.all(files.layers.map((f) => this.#create(f))),
        Promise.all(files.keyValues.map((f) => this.#create(f))),
      ]);
      return { embed, head, layers, keyValues };
    })();
    return this.#layered;
  }

  /** The embed graph alone, for teacache's look-ahead (`next-inputs.ts`): the layered model's when it is loaded. */
  embed(): Promise<ort.InferenceSession> {
    if (this.#layered) return this.#layered.then((l) => l.embed);
    this.#embedOnly ??= this.#create(this.#data.files.layered.embed);
    return this.#embedOnly;
  }

  /** Feature caching's fused forward: every layer in one call, with the inputs the policies read. */
  fused(): Promise<ort.InferenceSession> {
    this.#fused ??= this.#merged(buildFusedGraph(this.#m, this.#data.files.layered), warmFused);
    return this.#fused;
  }

  /** fbcache's embedding and layer 0 in one graph (`fuseFirstLayerGraph`): the fused forward's inputs, so its warm-up too. */
  firstLayer(): Promise<ort.InferenceSession> {
    this.#firstLayer ??= this.#merged(buildFirstLayerGraph(this.#m, this.#data.files.layered), warmFused);
    return this.#firstLayer;
  }

  /** The reuse graph: embedding, a stored residual added, head. */
  reuse(): Promise<ort.InferenceSession> {
    this.#reuse ??= this.#merged(buildReuseGraph(this.#m, this.#data.files.layered), warmReuse);
    return this.#reuse;
  }

  /** The graph of `steps` consecutive reused steps (`reuse-run.ts`), made on the first run of that length. */
  reuseRun(steps: number, update: RunUpdate): Promise<ort.InferenceSession> {
    const key = `${steps}:${update}`;
    let session = this.#reuseRuns.get(key);
    if (session === undefined) {
      session = this.#merged(buildReuseRunGraph(this.#m, this.#data.files.layered, steps, update), warmReuseRun);
      this.#reuseRuns.set(key, session);
    }
    return session;
  }

  #options(): ort.InferenceSession.SessionOptions {
    const { device, threads } = this.#data.lane;
    const executionProviders: ort.InferenceSession.ExecutionProviderConfig[] =
      device === 'cpu' ? ['cpu'] : [{ name: 'cuda', deviceId: Number(device.slice('cuda:'.length)) }, 'cpu'];
    return {
      executionProviders,
      executionMode: 'sequential',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: onnxLogSeverity(this.#logLevel),
      extra: this.#data.allowSpinning ? {} : { session: { intra_op: { allow_spinning: '0' } } },
    };
  }

  /**
   * Creates a session from a file or from bytes. A CUDA lane whose provider files are not
   * installed fails before ONNX Runtime tries (and logs) anything, with a sentence that says how
   * to install them; ONNX Runtime's own CUDA errors are explained the same way.
   */
  async #create(source: string | Uint8Array): Promise<ort.InferenceSession> {
    const device = this.#data.lane.device;
    const problem = executionProviderProblem(device);
    if (problem !== null) throw new Error(problem);
    try {
      if (typeof source !== 'string') return await ort.InferenceSession.create(source, this.#options());
      // A CPU graph from a file: through the optimised copy an earlier process saved.
      if (device === 'cpu') return await createOptimised(source, this.#options(), (path, options) => ort.InferenceSession.create(path, options), ort.env.versions.common);
      return await ort.InferenceSession.create(source, this.#options());
    } catch (error) {
      throw explainProviderError(device, error);
    }
  }

  /** A session from graph bytes merged in memory, run once on zero inputs by `warm`. */
  async #merged(bytes: Promise<Uint8Array>, warm: (m: ModelManifest, session: ort.InferenceSession) => Promise<unknown>): Promise<ort.InferenceSession> {
    const session = await this.#create(await bytes);
    await warm(this.#m, session);
    return session;
  }
}
