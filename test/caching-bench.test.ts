/** The caching bench on the random model, tiny: every figure present and consistent with the schedule. */
import { describe, expect, it } from 'vitest';
import { cachingPlot, cachingTable, runCachingBench, type CachingRecord } from '../src/bench/caching-bench.js';
import { cachingVerdicts, insideInterval } from '../src/bench/caching-goals.js';
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
    expect(none).toMatchObject({ steps: 8, policy: 'none', threshold: null, speedup: 1, skippedShare: 0, bound: 1, psnrFirstBlockDb: 99, psnrFirstBlockWorstDb: 99, firstBlocksUnder30Db: 0, psnrVideoDb: 99 });
    // Triggered at step 1 with no tail: steps 0, 1 and 5 compute, 2–4, 6, 7 reuse; 5 of 9 forwards reused.
    expect(cached?.skippedShare).toBeCloseTo(5 / 9, 9);
    expect(cached?.bound).toBeCloseTo(9 / 4, 9);
    expect(cached?.psnrVideoDb).toBeLessThan(99);
    // One quality video: its first block is both the mean and the worst case.
    expect(cached?.psnrFirstBlockWorstDb).toBe(cached?.psnrFirstBlockDb);
    expect(cached?.firstBlocksUnder30Db).toBe((cached?.psnrFirstBlockDb ?? 99) < 30 ? 1 : 0);
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

  describe('goals read under the table', () => {
    const probe = (mean: number, ci95 = 0) => ({ mean, ci95, n: 16 });
    const record = (r: Partial<CachingRecord> & Pick<CachingRecord, 'policy' | 'parallelism' | 'exec' | 'blocksPerSecond'>): CachingRecord => ({
      steps: 32, threshold: null, lanes: r.parallelism === 0 ? 1 : 2, speedup: 1, skippedShare: 0, bound: 1, featureMsPerBlock: 0, psnrFirstBlockDb: 99, psnrFirstBlockWorstDb: 99, firstBlocksUnder30Db: 0, psnrVideoDb: 99, ssim: 1,
      colour: probe(1), direction: probe(1), integrity: probe(0.98, 0.02), ...r,
    });
    const base = [
      record({ policy: 'none', parallelism: 0, exec: 'joint', blocksPerSecond: 10 }),
      record({ policy: 'bwcache', threshold: 0.15, parallelism: 0, exec: 'layered', blocksPerSecond: 29, speedup: 2.9, bound: 3.3, psnrFirstBlockDb: 32.6, psnrFirstBlockWorstDb: 23.1, firstBlocksUnder30Db: 0.25 }),
      record({ policy: 'bwcache', threshold: 0.03, parallelism: 0, exec: 'layered', blocksPerSecond: 20, speedup: 2, bound: 2.34, psnrFirstBlockDb: 58 }),
      record({ policy: 'none', parallelism: 4, exec: 'joint', blocksPerSecond: 12 }),
      record({ policy: 'none', parallelism: 4, exec: 'lanes', blocksPerSecond: 15 }),
      record({ policy: 'bwcache', threshold: 0.15, parallelism: 4, exec: 'layered', blocksPerSecond: 30, speedup: 2, bound: 3.3 }),
    ];

    it('reads the bound, the share of it measured, PSNR, the probe and the composition against the fastest modes', () => {
      const text = cachingVerdicts(base).join('\n');
      expect(text).toContain('bound 3.30× (goal ≥ 1.8×) met');
      // 2.9 ÷ 3.3 = 0.88
      expect(text).toContain('measured 2.90× = 0.88 of the bound (goal ≥ 0.85) met');
      expect(text).toContain('0.03: 2.00× of 2.34× = 0.85');
      expect(text).toContain('first-block PSNR 32.6 dB on average (goal ≥ 30) met; worst video 23.1 dB, 25% of the videos under 30 dB');
      expect(text).toMatch(/inside none's 95% intervals met/);
      // P4 alone: the faster uncached mode (lanes, 15 ÷ 10 = 1.5×); product 1.5 × 2.9 = 4.35; together 30 ÷ 10 = 3 → 0.69.
      expect(text).toContain('with P4 on 2 lanes (layered): 3.00× uncached P0; P4 alone (lanes) 1.50× × caching alone 2.90× = 4.35×; 0.69 of the product (goal ≥ 0.85) NOT met');
      expect(text).not.toContain('at 4 steps');
    });

    it('names the thresholds that allow the bound when the default does not, fails a probe outside none\'s interval, and reports four steps', () => {
      const short = base.map((r) => (r.policy === 'bwcache' && r.threshold === 0.15 && r.parallelism === 0 ? { ...r, bound: 1.5, speedup: 1.4, integrity: probe(0.9) } : r));
      const four = [record({ steps: 4, policy: 'none', parallelism: 0, exec: 'joint', blocksPerSecond: 50 }), record({ steps: 4, policy: 'bwcache', threshold: 0.15, parallelism: 0, exec: 'layered', blocksPerSecond: 40, speedup: 0.8 })];
      const text = cachingVerdicts([...short, ...four]).join('\n');
      expect(text).toContain('bound 1.50× (goal ≥ 1.8×) NOT met');
      expect(text).toContain('δ that allow it: 0.03 (2.34×, 58.0 dB)');
      expect(text).toMatch(/inside none's 95% intervals NOT met/);
      expect(text).toContain('at 4 steps, P0: bwcache δ = 0.15 skips 0% (bound 1.00×) and runs 0.80×');
      expect(insideInterval(probe(0.97), probe(0.98, 0.02))).toBe(true);
      expect(insideInterval(probe(0.95), probe(0.98, 0.02))).toBe(false);
    });
  });
});
