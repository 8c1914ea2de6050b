/**
 * Domain vocabulary shared by actors, lanes and clients.
 *
 * Branded numbers keep a block index from being passed where a frame position or a lane id
 * is expected; they cost nothing at run time.
 */

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Index of a video block, 0-based, in generation order. */
export type BlockIndex = Brand<number, 'BlockIndex'>;
/** Absolute latent frame index in the video (rotary position), 0-based. */
export type FramePosition = Brand<number, 'FramePosition'>;
/** Index of a lane (one device, one worker thread). */
export type LaneId = Brand<number, 'LaneId'>;
/** Index of a KV slot (one latent frame's K/V for every layer) in the KV pool's slabs. */
export type KvSlot = Brand<number, 'KvSlot'>;

/** @internal */
export const asBlockIndex = (n: number): BlockIndex => n as BlockIndex;
/** @internal */
export const asFramePosition = (n: number): FramePosition => n as FramePosition;
/** @internal */
export const asLaneId = (n: number): LaneId => n as LaneId;
/** @internal */
export const asKvSlot = (n: number): KvSlot => n as KvSlot;

/**
 * A stage of a block: one denoising step `t{N−1} … t0` at decreasing noise, then `cache`, the
 * forward over the clean result at t = 0 that writes the block's K/V.
 */
export type Stage = `t${number}` | 'cache';
/** Position of a stage in a block's life: 0 for the first (noisiest) step … N for `cache`. */
export type StageIndex = number;

const STAGE_NAMES = new Map<number, readonly Stage[]>();

/**
 * The stages of an N-step schedule, in the order a block passes them.
 *
 * @example
 * ```ts
 * stageNames(4); // ['t3', 't2', 't1', 't0', 'cache']
 * stageNames(8); // ['t7', …, 't0', 'cache']
 * ```
 */
export function stageNames(steps: number): readonly Stage[] {
  // Asked for every member of every tick (`stagePlan`): made once per step count.
  let names = STAGE_NAMES.get(steps);
  if (names === undefined) {
    names = Object.freeze([...Array.from({ length: steps }, (_, i): Stage => `t${steps - 1 - i}`), 'cache' as const]);
    STAGE_NAMES.set(steps, names);
  }
  return names;
}

/** The stages of the four-step schedule: `t3 → t2 → t1 → t0 → cache`. */
export const STAGES = ['t3', 't2', 't1', 't0', 'cache'] as const satisfies readonly Stage[];

/** Where a lane runs its forwards. */
export type Device = 'cpu' | `cuda:${number}`;

/** Options of one lane. */
export interface LaneOptions {
  /** `cpu` or `cuda:N`. */
  readonly device: Device;
  /** Intra-op threads of the lane's ONNX Runtime session. */
  readonly threads: number;
}
