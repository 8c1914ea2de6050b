/**
 * The fixed configurations whose frames are recorded in `test/fixtures/reference-frames/` (by
 * `tools/record-reference-frames.ts`) and compared on every test run: the behaviour every
 * restructuring must keep, byte for byte on the recording machine.
 */
import type { GenerateRequest } from '../../src/index.js';

/** One recorded configuration: a request on `models/random`, its lanes and cascade settings. */
export interface ReferenceConfig {
  readonly name: string;
  readonly lanes: number;
  readonly request: GenerateRequest;
  readonly cascade: Record<string, unknown>;
}

const base = { seed: 11, blocks: 6, prompt: 'green triangle moving right' } as const;
/** The prompt every switch of the references moves to. */
export const SWITCH_PROMPT = 'purple square moving down';

function configs(): ReferenceConfig[] {
  const out: ReferenceConfig[] = [];
  // P0 with LongLive's re-cache at every block a live switch can land on (the live-switch test
  // compares with the one it reports), and once without re-cache.
  for (const atBlock of [2, 3, 4, 5]) {
    out.push({ name: `p0-recache-on-switch-at-${atBlock}`, lanes: 1, request: { ...base, switches: [{ atBlock, prompt: SWITCH_PROMPT }] }, cascade: { parallelism: 0, recache: 'on' } });
  }
  out.push({ name: 'p0-recache-off-switch-at-3', lanes: 1, request: { ...base, switches: [{ atBlock: 3, prompt: SWITCH_PROMPT }] }, cascade: { parallelism: 0, recache: 'off' } });
  for (const parallelism of [2, 3, 4]) {
    for (const attention of ['causal', 'bidirectional']) {
      for (const exec of ['joint', 'lanes']) {
        out.push({ name: `p${parallelism}-${attention}-${exec}`, lanes: 2, request: base, cascade: { parallelism, attention, exec } });
      }
    }
  }
  out.push({ name: 'p4-bidirectional-lanes-switch-at-3', lanes: 2, request: { ...base, switches: [{ atBlock: 3, prompt: SWITCH_PROMPT }] }, cascade: { parallelism: 4, attention: 'bidirectional', exec: 'lanes', switchMode: 'in-flight' } });
  out.push({ name: 'p4-causal-joint-switch-at-3-at-block', lanes: 2, request: { ...base, switches: [{ atBlock: 3, prompt: SWITCH_PROMPT }] }, cascade: { parallelism: 4, attention: 'causal', exec: 'joint', switchMode: 'at-block' } });
  return out;
}

export const REFERENCE_CONFIGS: readonly ReferenceConfig[] = configs();
/** Where the recorded frames live. */
export const REFERENCE_DIR = new URL('../fixtures/reference-frames/', import.meta.url);
