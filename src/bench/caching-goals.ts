/**
 * Feature caching's goals read against one `bench --caching` run, as they are stated: on the
 * trained model at 32 steps, bwcache at its default δ allows a bound of at least 1.8× (else: the
 * thresholds that do), its measured P0 speed-up reaches 0.85 of that bound with a first-block
 * PSNR of 30 dB and the quality probe inside `none`'s 95 % intervals; with P4 on two lanes it
 * reaches 0.85 of the product of the two speed-ups measured alone; and at four steps, what it
 * gives. Pure: the bench command prints these lines under its table.
 */
import type { MeanInterval } from '../quality/stats.js';
import type { CachingRecord } from './caching-bench.js';

/** The stated thresholds. */
export const CACHING_GOALS = { steps: 32, threshold: 0.15, bound: 1.8, ofBound: 0.85, psnrFirstBlockDb: 30, composition: 0.85 } as const;

const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
const x = (v: number) => `${v.toFixed(2)}×`;

/** Whether `m`'s mean lies inside `reference`'s 95 % interval (to a tenth of a percent, as the table rounds). */
export function insideInterval(m: MeanInterval, reference: MeanInterval): boolean {
  return Math.abs(m.mean - reference.mean) <= reference.ci95 + 5e-4;
}

/** The fastest record of `policy` (at δ `threshold`) at `parallelism`, among `records` of one step count. */
function fastest(records: readonly CachingRecord[], parallelism: number, policy: string, threshold: number | null): CachingRecord | undefined {
  return records.filter((r) => r.parallelism === parallelism && r.policy === policy && r.threshold === threshold).sort((a, b) => b.blocksPerSecond - a.blocksPerSecond)[0];
}

/**
 * The goal lines for the step counts `records` hold (32 and 4; nothing for a run at other counts).
 *
 * @example
 * ```ts
 * process.stdout.write(cachingVerdicts(records).join('\n'));
 * ```
 */
export function cachingVerdicts(records: readonly CachingRecord[]): string[] {
  const lines: string[] = [];
  const at = (steps: number) => records.filter((r) => r.steps === steps);
  const goal = at(CACHING_GOALS.steps);
  const p0None = goal.find((r) => r.parallelism === 0 && r.policy === 'none' && r.exec === 'joint');
  const p0 = fastest(goal, 0, 'bwcache', CACHING_GOALS.threshold);
  if (p0None && p0) {
    const delta = CACHING_GOALS.threshold;
    lines.push(`at ${CACHING_GOALS.steps} steps, bwcache δ = ${delta}, P0 on 1 lane (${p0.exec}):`);
    lines.push(`  bound ${x(p0.bound)} (goal ≥ ${CACHING_GOALS.bound}×) ${met(p0.bound >= CACHING_GOALS.bound)}`);
    if (p0.bound < CACHING_GOALS.bound) {
      const allowing = goal.filter((r) => r.parallelism === 0 && r.policy === 'bwcache' && r.bound >= CACHING_GOALS.bound);
      lines.push(`  δ that allow it: ${allowing.length === 0 ? 'none measured' : allowing.map((r) => `${r.threshold} (${x(r.bound)}, ${r.psnrFirstBlockDb.toFixed(1)} dB)`).join(', ')}`);
    }
    const ofBound = p0.speedup / p0.bound;
    lines.push(`  measured ${x(p0.speedup)} = ${ofBound.toFixed(2)} of the bound (goal ≥ ${CACHING_GOALS.ofBound}) ${met(ofBound >= CACHING_GOALS.ofBound)}`);
    const others = goal.filter((r) => r.parallelism === 0 && r.policy === 'bwcache' && r.threshold !== delta && r.bound >= CACHING_GOALS.bound);
    if (others.length > 0) lines.push(`  other δ with a bound ≥ ${CACHING_GOALS.bound}×: ${others.map((r) => `${r.threshold}: ${x(r.speedup)} of ${x(r.bound)} = ${(r.speedup / r.bound).toFixed(2)}`).join(', ')}`);
    lines.push(
      `  first-block PSNR ${p0.psnrFirstBlockDb.toFixed(1)} dB on average (goal ≥ ${CACHING_GOALS.psnrFirstBlockDb}) ${met(p0.psnrFirstBlockDb >= CACHING_GOALS.psnrFirstBlockDb)}; ` +
        `worst video ${p0.psnrFirstBlockWorstDb.toFixed(1)} dB, ${(p0.firstBlocksUnder30Db * 100).toFixed(0)}% of the videos under ${CACHING_GOALS.psnrFirstBlockDb} dB`,
    );
    const probe = (['colour', 'direction', 'integrity'] as const).map((k) => ({ k, ok: insideInterval(p0[k], p0None[k]), v: p0[k], ref: p0None[k] }));
    const pct = (m: MeanInterval) => `${(m.mean * 100).toFixed(0)}`;
    lines.push(`  probe ${probe.map((p) => `${p.k} ${pct(p.v)}% (none ${pct(p.ref)} ± ${(p.ref.ci95 * 100).toFixed(0)}%)`).join(', ')}: inside none's 95% intervals ${met(probe.every((p) => p.ok))}`);
    const p4None = goal.filter((r) => r.parallelism === 4 && r.policy === 'none').sort((a, b) => b.blocksPerSecond - a.blocksPerSecond)[0];
    const p4 = fastest(goal, 4, 'bwcache', delta);
    if (p4None && p4) {
      const cascade = p4None.blocksPerSecond / p0None.blocksPerSecond;
      const together = p4.blocksPerSecond / p0None.blocksPerSecond;
      const product = cascade * p0.speedup;
      lines.push(`  with P4 on 2 lanes (${p4.exec}): ${x(together)} uncached P0; P4 alone (${p4None.exec}) ${x(cascade)} × caching alone ${x(p0.speedup)} = ${x(product)}; ${(together / product).toFixed(2)} of the product (goal ≥ ${CACHING_GOALS.composition}) ${met(together / product >= CACHING_GOALS.composition)}`);
    }
  }
  const four = at(4).filter((r) => r.policy !== 'none' && r.parallelism === 0);
  const best = four.sort((a, b) => b.speedup - a.speedup)[0];
  if (best) {
    const bw = fastest(at(4), 0, 'bwcache', CACHING_GOALS.threshold);
    lines.push(`at 4 steps, P0: ${bw ? `bwcache δ = ${CACHING_GOALS.threshold} skips ${(bw.skippedShare * 100).toFixed(0)}% (bound ${x(bw.bound)}) and runs ${x(bw.speedup)}; ` : ''}the fastest policy, ${best.policy} δ = ${best.threshold}, ${x(best.speedup)} at ${best.psnrFirstBlockDb.toFixed(1)} dB: off by default there`);
  }
  return lines;
}
