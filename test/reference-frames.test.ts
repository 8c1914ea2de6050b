/**
 * Behaviour kept, proven: every configuration recorded in `test/fixtures/reference-frames/`
 * gives the same frames today. Identical bytes on the CPU that recorded them; within 1 of 255
 * elsewhere, where onnxruntime may round differently.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Frame, type Runtime } from '../src/index.js';
import { RANDOM_MODEL } from './support/models.js';
import { REFERENCE_CONFIGS, REFERENCE_DIR, SWITCH_PROMPT } from './support/reference-configs.js';

const dir = fileURLToPath(REFERENCE_DIR);
const index = JSON.parse(readFileSync(`${dir}index.json`, 'utf8')) as { cpu: string; configs: { name: string; bytes: number }[] };
const sameCpu = index.cpu === (cpus()[0]?.model ?? 'unknown');
const reference = (name: string) => gunzipSync(readFileSync(`${dir}${name}.rgb.gz`));

function expectMatches(actual: Buffer, name: string): void {
  const expected = reference(name);
  expect(actual.length, `${name}: byte count`).toBe(expected.length);
  if (sameCpu) {
    expect(actual.equals(expected), `${name}: bytes differ from the recording`).toBe(true);
    return;
  }
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)));
  expect(worst, `${name}: largest difference from the recording`).toBeLessThanOrEqual(1);
}

const bytes = (frames: readonly Frame[]) => Buffer.concat(frames.map((f) => f.rgb));

describe('reference frames on models/random', () => {
  const runtimes = new Map<number, Runtime>();
  beforeAll(async () => {
    for (const lanes of new Set(REFERENCE_CONFIGS.map((c) => c.lanes))) runtimes.set(lanes, await createRuntime({ lanes, model: RANDOM_MODEL }));
  });
  afterAll(async () => {
    await Promise.all([...runtimes.values()].map((r) => r.close()));
  });

  it('records every configuration', () => {
    expect(index.configs.map((c) => c.name)).toEqual(REFERENCE_CONFIGS.map((c) => c.name));
  });

  for (const config of REFERENCE_CONFIGS) {
    it(`${config.name} on ${config.lanes} lane(s)`, async () => {
      const frames: Frame[] = [];
      for await (const frame of (runtimes.get(config.lanes) as Runtime).generate(config.request, { cascade: config.cascade })) frames.push(frame);
      expectMatches(bytes(frames), config.name);
    });
  }

  it('a live prompt switch gives the recorded frames of the block it reports', async () => {
    const runtime = runtimes.get(1) as Runtime;
    const session = runtime.session({ seed: 11, blocks: 6, prompt: 'green triangle moving right' }, { cascade: { parallelism: 0, recache: 'on' } });
    const frames: Frame[] = [];
    let switched: Promise<{ fromBlock: number }> | undefined;
    for await (const frame of session.frames) {
      frames.push(frame);
      if (frame.index === 2) switched = session.switchPrompt(SWITCH_PROMPT);
    }
    const { fromBlock } = await (switched as Promise<{ fromBlock: number }>);
    expect([2, 3, 4, 5]).toContain(fromBlock);
    expectMatches(bytes(frames), `p0-recache-on-switch-at-${fromBlock}`);
  });
});
