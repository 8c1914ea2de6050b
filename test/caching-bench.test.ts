/** The caching bench on the random model, tiny: every figure present and consistent with the schedule. */
import { describe, expect, it } from 'vitest';
import { cachingPlot, cachingTable, runCachingBench } from '../src/bench/caching-bench.js';
import { RANDOM_MODEL } from './support/models.js';
import { runCli } from './support/cli.js';

describe('caching bench', () => {
  it('measures none against bwcache: speed-up 1 for the reference, bound and skipped share from the schedule, PSNR and probe', async () => {
    const records = await runCachingBench({
      model: RANDOM_MODEL,
      steps: 8,
      settings: [{ parallelism: 0, lanes: 1, configs: [{ policy: 'none', threshold: null, exec: 'joint' }, { policy: 'bwcache', threshold: 1.5, exec: 'layered' }] }],
      blocks: 1,
      repeats: 1,
      seeds: [0],
      prompts: ['red ball moving left'],
      qualityBlocks: 1,
    });
    const [none, cached] = records;
    expect(none).toMatchObject({ steps: 8, policy: 'none', threshold: null, speedup: 1, skippedShare: 0, bound: 1, psnrFirstBlockDb: 99, psnrVideoDb: 99 });
    // Triggered at step 1 with no tail: steps 0, 1 and 5 compute, 2–4, 6, 7 reuse; 5 of 9 forwards reused.
    expect(cached?.skippedShare).toBeCloseTo(5 / 9, 9);
    expect(cached?.bound).toBeCloseTo(9 / 4, 9);
    expect(cached?.psnrVideoDb).toBeLessThan(99);
    expect(none?.ssim).toBe(1);
    expect(cached?.ssim).toBeLessThan(1);
    const svg = cachingPlot(records, 'test');
    expect(svg).toMatch(/^<svg/);
    expect(svg.match(/<circle /g)?.length).toBe(2 + 1 + 2); // two speed-ups, one bound, a legend dot per mode
    expect(cached?.colour.n).toBe(1);
    expect(cachingTable(records)).toMatch(/\| 8 \| P0, 1 lane \| bwcache δ = 1.5 \| layered \|/);
  });

  it('is block-cascade bench --caching', async () => {
    const help = await runCli(['bench', '--help']);
    expect(help.stdout).toContain('--caching');
  });
});
