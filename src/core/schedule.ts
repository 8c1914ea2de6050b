/**
 * The cascade schedule as arithmetic: with lag Δ, block b is at stage `k − b·Δ` at tick k
 * (stages 0..3 denoise, 4 caches). The supervisor does not consult this table, it admits a
 * block when its predecessor reaches stage Δ; tests check that the two agree.
 */
import type { StageIndex } from './domain.js';
import type { Lag } from './cascade-options.js';

/** One block's stage at one tick. */
export interface TickEntry {
  readonly block: number;
  readonly stage: StageIndex;
}

/** The tick at which block `block` runs stage `stage`. */
export const tickOf = (block: number, stage: StageIndex, lag: Lag): number => block * lag + stage;

/**
 * The blocks that run at tick `tick`, oldest first.
 *
 * @example
 * ```ts
 * tickMembers(4, 1, 10); // [{block:0,stage:4},{block:1,stage:3},{block:2,stage:2},{block:3,stage:1},{block:4,stage:0}]
 * ```
 */
export function tickMembers(tick: number, lag: Lag, blocks: number): TickEntry[] {
  const members: TickEntry[] = [];
  for (let block = Math.max(0, Math.ceil((tick - 4) / lag)); block < blocks && block * lag <= tick; block++) {
    members.push({ block, stage: (tick - block * lag) as StageIndex });
  }
  return members;
}

/** Number of ticks a generation of `blocks` blocks takes. */
export const tickCount = (blocks: number, lag: Lag): number => (blocks - 1) * lag + 5;
