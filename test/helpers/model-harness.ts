/**
 * Test harness for model packages: opens a package's denoiser and layered graphs and runs one
 * denoiser call monolithic, layered, or layered and split by frames as lanes would run it.
 */
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { expect } from 'vitest';
import type { ModelManifest } from '../../src/core/manifest-types.js';

export type Feeds = Record<string, Tensor>;
export type Outputs = Record<string, Float32Array>;

export async function open(file: string): Promise<InferenceSession> {
  return InferenceSession.create(file, { intraOpNumThreads: 1, executionMode: 'sequential' });
}

export async function run(session: InferenceSession, feeds: Feeds): Promise<Outputs> {
  const out = await session.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

export const f32 = (data: Float32Array, dims: readonly number[]) => new Tensor('float32', data, dims);

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

export function rms(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v * v;
  return Math.sqrt(s / a.length);
}

export function allFinite(a: Float32Array): boolean {
  return a.every((v) => Number.isFinite(v));
}

/** The two graphs of one layer in the layered form. */
export interface LayerSessions {
  readonly kv: InferenceSession;
  readonly block: InferenceSession;
}

/**
 * Concatenates K/V tensors [rows, tokens_i, headDim] (rows = B·heads) along the token axis, in
 * the order given.
 */
export function catTokens(parts: readonly { data: Float32Array; tokens: number }[], rows: number, headDim: number): Float32Array {
  const total = parts.reduce((n, p) => n + p.tokens, 0);
  const out = new Float32Array(rows * total * headDim);
  for (let r = 0; r < rows; r++) {
    let o = r * total * headDim;
    for (const p of parts) {
      out.set(p.data.subarray(r * p.tokens * headDim, (r + 1) * p.tokens * headDim), o);
      o += p.tokens * headDim;
    }
  }
  return out;
}

/** `f` over `items`, one at a time (one session never runs two calls at once). */
export async function sequential<T, R>(items: readonly T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await f(item));
  return out;
}

/** Rows [from, to) of a [1, 1, N, S] mask. */
export const maskRows = (mask: Float32Array, columns: number, from: number, to: number) => mask.slice(from * columns, to * columns);

/** Loads a package's graphs and runs the denoiser monolithic, layered, or layered and split by frames. */
export class Harness {
  private constructor(
    readonly m: ModelManifest,
    readonly denoiser: InferenceSession,
    readonly embed: InferenceSession,
    readonly layers: readonly LayerSessions[],
    readonly head: InferenceSession,
  ) {}

  static async open(dir: string, m: ModelManifest): Promise<Harness> {
    return new Harness(
      m,
      await open(join(dir, m.files.denoiser)),
      await open(join(dir, m.files.layered.embed)),
      await Promise.all(m.files.layered.layers.map(async (l) => ({ kv: await open(join(dir, l.kv)), block: await open(join(dir, l.block)) }))),
      await open(join(dir, m.files.layered.head)),
    );
  }

  get frameSize(): number {
    return this.m.latent.channels * this.m.latent.height * this.m.latent.width;
  }

  /** Inputs of one call: B rows of F frames, per-frame timesteps and positions, T past tokens. */
  inputs(opts: {
    B: number; latents: Float32Array; timesteps: number[]; positions: number[];
    context: Float32Array; pastKey?: Float32Array; pastValue?: Float32Array; T?: number; mask?: Float32Array;
  }): Feeds {
    const { m } = this;
    const F = opts.timesteps.length / opts.B;
    const T = opts.T ?? 0;
    const N = F * m.tokensPerFrame;
    const kvDims = [m.layers, opts.B, m.heads, T, m.headDim];
    const kvSize = m.layers * opts.B * m.heads * T * m.headDim;
    return {
      latents: f32(opts.latents, [opts.B, F, m.latent.channels, m.latent.height, m.latent.width]),
      timesteps: f32(Float32Array.from(opts.timesteps), [opts.B, F]),
      frame_positions: f32(Float32Array.from(opts.positions), [opts.B, F]),
      context: f32(opts.context, [opts.B, opts.context.length / opts.B / m.text.contextDim, m.text.contextDim]),
      past_key: f32(opts.pastKey ?? new Float32Array(kvSize), kvDims),
      past_value: f32(opts.pastValue ?? new Float32Array(kvSize), kvDims),
      attention_mask: f32(opts.mask ?? new Float32Array(opts.B * N * (T + N)), [opts.B, 1, N, T + N]),
    };
  }

  async monolithic(feeds: Feeds): Promise<Outputs> {
    return run(this.denoiser, feeds);
  }

  /** embed → per layer (layer_i_kv over all tokens, then layer_i with [past_i ; those K/V]) → head. */
  async layered(feeds: Feeds): Promise<Outputs> {
    const F = (feeds.timesteps as Tensor).dims[1] as number;
    return this.split(feeds, [[0, F]]);
  }

  /**
   * The denoiser call of `feeds` run as lanes would run it: the frames are cut into `groups`
   * ([from, to) frame ranges covering all frames in order); each group embeds its frames and
   * computes each layer's K/V of its tokens; the groups' K/V are concatenated in global token
   * order after the layer's past; each group runs `layer_i` for its own queries with its rows
   * of the mask; each group's head gives its frames' flow. Returns the concatenated flow and
   * the present K/V ([L, B, heads, N, headDim], like the monolithic graph).
   */
  async split(feeds: Feeds, groups: readonly (readonly [number, number])[]): Promise<Outputs> {
    const { m } = this;
    const tpf = m.tokensPerFrame;
    const pastKey = feeds.past_key as Tensor;
    const pastValue = feeds.past_value as Tensor;
    const [, B, heads, T, headDim] = pastKey.dims as [number, number, number, number, number];
    const F = (feeds.timesteps as Tensor).dims[1] as number;
    const N = F * tpf;
    const perLayerPast = B * heads * T * headDim;
    const rows = B * heads;
    if (B !== 1 && groups.length > 1) throw new Error('split: one batch row only');
    const whole = (range: readonly [number, number]) => range[0] === 0 && range[1] === F;
    const perFrame = (t: Tensor, size: number, range: readonly [number, number]) =>
      whole(range) ? t : f32((t.data as Float32Array).slice(range[0] * size, range[1] * size), [B, range[1] - range[0], ...t.dims.slice(2)]);
    const mask = feeds.attention_mask as Tensor;
    const parts = await sequential(groups, async (range) => {
      const latents = perFrame(feeds.latents as Tensor, this.frameSize, range);
      const timesteps = perFrame(feeds.timesteps as Tensor, 1, range);
      const e = await run(this.embed, { latents, timesteps });
      const frames = range[1] - range[0];
      return {
        frames,
        latents,
        timesteps,
        positions: perFrame(feeds.frame_positions as Tensor, 1, range),
        hiddenDims: [B, frames * tpf, m.width],
        timeEmbedding: f32(e.time_embedding as Float32Array, [B, frames, m.width]),
        hidden: e.hidden as Float32Array,
        mask: whole(range) ? mask : f32(maskRows(mask.data as Float32Array, T + N, range[0] * tpf, range[1] * tpf), [B, 1, frames * tpf, T + N]),
      };
    });
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (const [i, layer] of this.layers.entries()) {
      const kvs = await sequential(parts, (p) => run(layer.kv, {
        hidden: f32(p.hidden, p.hiddenDims),
        time_embedding: p.timeEmbedding,
        frame_positions: p.positions,
      }));
      const past = (t: Tensor) => ({ data: (t.data as Float32Array).subarray(i * perLayerPast, (i + 1) * perLayerPast), tokens: T });
      const own = (name: 'key' | 'value') => kvs.map((kv, g) => ({ data: kv[name] as Float32Array, tokens: (parts[g] as (typeof parts)[number]).frames * tpf }));
      const present = { key: catTokens(own('key'), rows, headDim), value: catTokens(own('value'), rows, headDim) };
      keys.push(present.key);
      values.push(present.value);
      const kvDims = [B, heads, T + N, headDim];
      const key = f32(catTokens([past(pastKey), { data: present.key, tokens: N }], rows, headDim), kvDims);
      const value = f32(catTokens([past(pastValue), { data: present.value, tokens: N }], rows, headDim), kvDims);
      const outs = await sequential(parts, (p) => run(layer.block, {
        hidden: f32(p.hidden, p.hiddenDims),
        time_embedding: p.timeEmbedding,
        frame_positions: p.positions,
        context: feeds.context as Tensor,
        key,
        value,
        attention_mask: p.mask,
      }));
      outs.forEach((o, g) => { (parts[g] as (typeof parts)[number]).hidden = o.hidden_out as Float32Array; });
    }
    const flows = await sequential(parts, (p) => run(this.head, {
      hidden: f32(p.hidden, p.hiddenDims),
      time_embedding: p.timeEmbedding,
      latents: p.latents,
      timesteps: p.timesteps,
    }));
    const concat = (list: readonly Float32Array[]) => {
      const all = new Float32Array(list.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of list) { all.set(p, o); o += p.length; }
      return all;
    };
    return { flow: concat(flows.map((f) => f.flow as Float32Array)), present_key: concat(keys), present_value: concat(values) };
  }

  async release(): Promise<void> {
    for (const s of [this.denoiser, this.embed, ...this.layers.flatMap((l) => [l.kv, l.block]), this.head]) await s.release();
  }
}

