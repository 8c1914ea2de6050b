/**
 * The per-layer K/V exchange between lanes: shared memory, synchronised with Atomics.
 *
 * Every lane of a tick writes its tokens' K/V of layer l at their global token offsets, sets its
 * bit in layer l's arrival word and waits until the lanes whose frames it attends to have
 * arrived; then it reads their K/V straight from the slab. No message crosses the actor thread per layer.
 * The actor thread resets the counters before dispatching a tick, when no lane is inside one.
 *
 * Layout: keys and values float32 `[layer][head][token][headDim]` for up to `maxTokens` tokens of
 * a tick; control int32 `[arrived lanes of layer 0 … layer L−1 (one bit per lane), abort flag]`.
 */
import { kvRowFloats, kvSlotFloats } from '../kv/kv-layout.js';
import type { KvSlabs } from '../kv/kv-slabs.js';
import type { ModelManifest } from '../../core/manifest-types.js';

export interface ExchangeSlab {
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  readonly maxTokens: number;
  readonly keys: SharedArrayBuffer;
  readonly values: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
}

/** Allocates the exchange for ticks of up to `maxFrames` frames. */
export function allocateExchange(m: ModelManifest, maxFrames: number): ExchangeSlab {
  const maxTokens = maxFrames * m.tokensPerFrame;
  const bytes = m.layers * m.heads * maxTokens * m.headDim * 4;
  return {
    layers: m.layers,
    heads: m.heads,
    headDim: m.headDim,
    maxTokens,
    keys: new SharedArrayBuffer(bytes),
    values: new SharedArrayBuffer(bytes),
    control: new SharedArrayBuffer((m.layers + 1) * 4),
  };
}

/** Clears the arrival counters and the abort flag (actor thread, between ticks). */
export function resetExchange(x: ExchangeSlab): void {
  const control = new Int32Array(x.control);
  for (let i = 0; i < control.length; i++) Atomics.store(control, i, 0);
}

/** Writes `key`/`value` ([heads, tokens, headDim]) of tokens starting at `firstToken` into layer `layer`. */
export function publishLayer(x: ExchangeSlab, layer: number, firstToken: number, key: Float32Array, value: Float32Array): void {
  const keys = new Float32Array(x.keys);
  const values = new Float32Array(x.values);
  const rows = key.length / x.heads;
  for (let h = 0; h < x.heads; h++) {
    const dst = ((layer * x.heads + h) * x.maxTokens) * x.headDim + firstToken * x.headDim;
    keys.set(key.subarray(h * rows, (h + 1) * rows), dst);
    values.set(value.subarray(h * rows, (h + 1) * rows), dst);
  }
}

/**
 * Writes `count` tokens of `key`/`value` (`[heads][srcTokens][headDim]`, from token `srcFirst`)
 * into layer `layer` at global token `firstToken` (a share's computing frames, or a reusing
 * block's cached K/V).
 */
export function publishRows(x: ExchangeSlab, layer: number, firstToken: number, key: Float32Array, value: Float32Array, srcTokens: number, srcFirst: number, count: number): void {
  const keys = new Float32Array(x.keys);
  const values = new Float32Array(x.values);
  const d = x.headDim;
  for (let h = 0; h < x.heads; h++) {
    const src = (h * srcTokens + srcFirst) * d;
    const dst = ((layer * x.heads + h) * x.maxTokens + firstToken) * d;
    keys.set(key.subarray(src, src + count * d), dst);
    values.set(value.subarray(src, src + count * d), dst);
  }
}

const ABORT = (x: ExchangeSlab) => x.layers;

/** Tells every waiting lane that this tick is lost. */
export function abortExchange(x: ExchangeSlab): void {
  const control = new Int32Array(x.control);
  Atomics.store(control, ABORT(x), 1);
  for (let l = 0; l < x.layers; l++) Atomics.notify(control, l);
}

/**
 * Marks layer `layer` as written by lane `lane` (0-based among the tick's lanes) and blocks until
 * lanes `0 … waitFor − 1` have written it: the lanes whose frames this lane attends to (under
 * causal attention a lane never waits for the lanes that hold newer blocks, so the first lane
 * runs ahead and the others follow it a layer behind). Returns the milliseconds spent waiting.
 * Throws if another lane aborted the tick or nobody came.
 *
 * @example
 * ```ts
 * arriveAndWait(exchange, 3, 1, 2); // lane 1 published layer 3; wait for lane 0's too
 * ```
 */
export function arriveAndWait(x: ExchangeSlab, layer: number, lane: number, waitFor: number, timeoutMs = 60_000): number {
  if (!Number.isInteger(lane) || lane < 0 || lane >= MAX_EXCHANGE_LANES || !Number.isInteger(waitFor) || waitFor < 1 || waitFor > MAX_EXCHANGE_LANES) {
    throw new RangeError(`arriveAndWait: lane ${lane} waiting for ${waitFor} lanes (at most ${MAX_EXCHANGE_LANES} lanes share a tick)`);
  }
  const control = new Int32Array(x.control);
  Atomics.or(control, layer, 1 << lane);
  Atomics.notify(control, layer);
  const needed = (1 << waitFor) - 1;
  const start = performance.now();
  for (;;) {
    if (Atomics.load(control, ABORT(x)) !== 0) throw new Error(`layer ${layer}: another lane failed during this tick`);
    const arrived = Atomics.load(control, layer);
    if ((arrived & needed) === needed) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`layer ${layer}: lane ${lane} waited ${timeoutMs} ms for lanes ${missingLanes(arrived, waitFor).join(', ')}`);
    Atomics.wait(control, layer, arrived, 100);
  }
}

/** Lanes of a tick that can meet at one exchange: one bit each in a layer's arrival word. */
export const MAX_EXCHANGE_LANES = 31;

function missingLanes(arrived: number, waitFor: number): number[] {
  return Array.from({ length: waitFor }, (_, i) => i).filter((i) => (arrived & (1 << i)) === 0);
}

/** A layer's full key/value set: `[heads, tokens, headDim]` each. */
export interface LayerKeyValues {
  readonly key: Float32Array;
  readonly value: Float32Array;
  readonly tokens: number;
}

/**
 * Layer `layer`'s `key`/`value` input of `layer_<i>` (`[heads, T + N, headDim]`): per head, the
 * cache past read straight from the KV slabs (`pastSlots` in order), then the tick tokens from
 * the exchange, in token order: the first `tickTokens` of them, or the runs [from, to) given.
 * Each float is copied once; `out` (of that exact size) is filled in place, so a lane can reuse
 * one buffer for every layer.
 */
export function fullKeyValues(
  x: ExchangeSlab,
  layer: number,
  slabs: KvSlabs,
  pastSlots: readonly number[],
  tickTokens: number | readonly { readonly from: number; readonly to: number }[],
  out?: { readonly key: Float32Array; readonly value: Float32Array },
): LayerKeyValues {
  const runs = typeof tickTokens === 'number' ? [{ from: 0, to: tickTokens }] : tickTokens;
  const d = x.headDim;
  const rows = kvRowFloats(slabs.layout);
  const perSlot = kvSlotFloats(slabs.layout);
  const pastTokens = pastSlots.length * slabs.layout.tokensPerFrame;
  const tokens = pastTokens + runs.reduce((n, r) => n + r.to - r.from, 0);
  const floats = x.heads * tokens * d;
  if (out && (out.key.length !== floats || out.value.length !== floats)) {
    throw new RangeError(`fullKeyValues: ${tokens} tokens need ${floats} floats, out has key ${out.key.length}, value ${out.value.length}`);
  }
  const key = out?.key ?? new Float32Array(floats);
  const value = out?.value ?? new Float32Array(floats);
  const cache = { k: new Float32Array(slabs.keys), v: new Float32Array(slabs.values) };
  const tick = { k: new Float32Array(x.keys), v: new Float32Array(x.values) };
  for (let h = 0; h < x.heads; h++) {
    let o = h * tokens * d;
    const lh = layer * x.heads + h;
    for (const slot of pastSlots) {
      const src = slot * perSlot + lh * rows;
      key.set(cache.k.subarray(src, src + rows), o);
      value.set(cache.v.subarray(src, src + rows), o);
      o += rows;
    }
    for (const run of runs) {
      const base = (lh * x.maxTokens + run.from) * d;
      const n = (run.to - run.from) * d;
      key.set(tick.k.subarray(base, base + n), o);
      value.set(tick.v.subarray(base, base + n), o);
      o += n;
    }
  }
  return { key, value, tokens };
}

/**
 * Copies the K/V of tick frames [firstFrame, firstFrame + slots.length) of every layer from the
 * exchange into the KV slabs' slots (the caching block's clean K/V).
 */
export function exchangeToSlots(
  x: ExchangeSlab,
  slabKeys: SharedArrayBuffer,
  slabValues: SharedArrayBuffer,
  tokensPerFrame: number,
  slots: readonly number[],
  firstFrame: number,
): void {
  const d = x.headDim;
  const rows = tokensPerFrame * d;
  const perSlot = x.layers * x.heads * rows;
  const src = { k: new Float32Array(x.keys), v: new Float32Array(x.values) };
  const dst = { k: new Float32Array(slabKeys), v: new Float32Array(slabValues) };
  slots.forEach((slot, i) => {
    for (let lh = 0; lh < x.layers * x.heads; lh++) {
      const from = lh * x.maxTokens * d + (firstFrame + i) * rows;
      const to = slot * perSlot + lh * rows;
      dst.k.set(src.k.subarray(from, from + rows), to);
      dst.v.set(src.v.subarray(from, from + rows), to);
    }
  });
}
