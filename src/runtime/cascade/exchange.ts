/**
 * The per-layer K/V exchange between lanes: shared memory, synchronised with Atomics.
 *
 * Every lane of a tick writes its tokens' K/V of layer l at their global token offsets, bumps
 * layer l's arrival counter and waits until every lane of the tick has arrived; then each lane
 * reads the others' K/V straight from the slab. No message crosses the actor thread per layer.
 * The actor thread resets the counters before dispatching a tick, when no lane is inside one.
 *
 * Layout: keys and values float32 `[layer][head][token][headDim]` for up to `maxTokens` tokens of
 * a tick; control int32 `[arrivals of layer 0 … layer L−1, abort flag]`.
 */
import type { ModelManifest } from '../model/manifest-types.js';

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

const ABORT = (x: ExchangeSlab) => x.layers;

/** Tells every waiting lane that this tick is lost. */
export function abortExchange(x: ExchangeSlab): void {
  const control = new Int32Array(x.control);
  Atomics.store(control, ABORT(x), 1);
  for (let l = 0; l < x.layers; l++) Atomics.notify(control, l);
}

/**
 * Marks this lane's layer `layer` as written and blocks until `lanes` lanes have written it.
 * Returns the milliseconds spent waiting. Throws if another lane aborted the tick or nobody came.
 */
export function arriveAndWait(x: ExchangeSlab, layer: number, lanes: number, timeoutMs = 60_000): number {
  const control = new Int32Array(x.control);
  Atomics.add(control, layer, 1);
  Atomics.notify(control, layer);
  const start = performance.now();
  for (;;) {
    if (Atomics.load(control, ABORT(x)) !== 0) throw new Error(`layer ${layer}: another lane failed during this tick`);
    const arrived = Atomics.load(control, layer);
    if (arrived >= lanes) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`layer ${layer}: waited ${timeoutMs} ms for ${lanes - arrived} lane(s)`);
    Atomics.wait(control, layer, arrived, 100);
  }
}

/**
 * This lane's `past_key`/`past_value` for layer `layer` ([heads, T', headDim]): per head, the
 * cache past (`pastTokens` tokens) followed by the tick's tokens outside [mineFrom, mineTo), in
 * token order, read from the exchange.
 */
export function pastWithOthers(
  x: ExchangeSlab,
  layer: number,
  past: { readonly key: Float32Array; readonly value: Float32Array; readonly tokens: number },
  totalTokens: number,
  mine: { readonly from: number; readonly to: number },
): { key: Float32Array; value: Float32Array; tokens: number } {
  const d = x.headDim;
  const tokens = past.tokens + totalTokens - (mine.to - mine.from);
  const keys = new Float32Array(x.keys);
  const values = new Float32Array(x.values);
  const key = new Float32Array(x.heads * tokens * d);
  const value = new Float32Array(key.length);
  for (let h = 0; h < x.heads; h++) {
    let o = h * tokens * d;
    const pastStart = h * past.tokens * d;
    key.set(past.key.subarray(pastStart, pastStart + past.tokens * d), o);
    value.set(past.value.subarray(pastStart, pastStart + past.tokens * d), o);
    o += past.tokens * d;
    const base = (layer * x.heads + h) * x.maxTokens * d;
    for (const [from, to] of [[0, mine.from], [mine.to, totalTokens]] as const) {
      key.set(keys.subarray(base + from * d, base + to * d), o);
      value.set(values.subarray(base + from * d, base + to * d), o);
      o += (to - from) * d;
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
