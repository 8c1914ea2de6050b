import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSessionFile } from '../src/protocol/session-file.js';
import { planSession } from '../src/api/session-plan.js';

const DIR = 'examples/sessions';

describe('example session scripts', () => {
  it('every script decodes and plans, and shows what its README says', async () => {
    const files = (await readdir(DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(['caching.json', 'lanes.json', 'long.json', 'recache.json', 'sprite.json', 'switch.json', 'timed.json']);
    const plans = Object.fromEntries(
      await Promise.all(files.map(async (f) => [f, await planSession(await loadSessionFile(join(DIR, f)), join(DIR, f))] as const)),
    );
    expect(plans['timed.json']?.request).toMatchObject({ blocks: 18, switches: [{ atBlock: 6 }, { atBlock: 12 }] });
    expect(plans['timed.json']?.fps).toBe(12);
    expect(plans['recache.json']?.runtime.cascade).toEqual({ parallelism: 0, recache: 'on' });
    expect(plans['recache.json']?.settings).toEqual({ parallelism: 0, attention: 'bidirectional', exec: 'joint', recache: 'on', switchMode: 'at-block', cascadeWindow: 'extended', steps: 4, featureCache: { policy: 'none' } });
    expect(plans['switch.json']?.request.blocks).toBe(10);
    expect(plans['lanes.json']?.runtime.lanes).toBe(2);
    expect(plans['caching.json']?.settings).toMatchObject({ steps: 32, exec: 'layered', featureCache: { policy: 'bwcache', threshold: 0.05, interval: 3, lastStep: 0.5 } });
  });
});

describe('the README demo', () => {
  // The README's commands on examples/sessions/sprite.json: sequential, and P4 as `joint` on
  // one lane and as `lanes` on two.
  const commands = [
    { name: 'P0', lanes: 1, cascade: {} },
    { name: 'P4 joint (bidirectional)', lanes: 1, cascade: { parallelism: 4, attention: 'bidirectional', exec: 'joint' } },
    { name: 'P4 lanes on 2 lanes', lanes: 2, cascade: { parallelism: 4, exec: 'lanes' } },
  ] as const;
  for (const command of commands) {
    it(`${command.name}: the sprite follows the prompt (the bundled model on examples/sessions/sprite.json)`, async () => {
      const { createRuntime } = await import('../src/api/runtime.js');
      const { probeVideo } = await import('../src/quality/probe.js');
      const { parsePrompt } = await import('../src/data/prompt.js');
      const plan = await planSession(await loadSessionFile(join(DIR, 'sprite.json')), 'sprite.json', { lanes: command.lanes, ...command.cascade });
      const runtime = await createRuntime(plan.runtime);
      try {
        const frames = [];
        for await (const frame of runtime.generate(plan.request)) frames.push(frame);
        const facts = parsePrompt(plan.request.prompt);
        const report = probeVideo(frames, { framesPerBlock: runtime.manifest.framesPerBlock, prompts: Array.from({ length: plan.request.blocks }, () => facts) });
        expect(report.colourAdherence).toBe(1);
        expect(report.directionAdherence).toBeGreaterThanOrEqual(0.75);
        expect(report.integrity).toBeGreaterThanOrEqual(0.75);
      } finally {
        await runtime.close();
      }
    });
  }
});
