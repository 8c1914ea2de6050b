/**
 * The performance goals over several bench invocations, each read against its own ceiling:
 *
 *   npx tsx tools/speed-goals.ts run1.json run2.json run3.json [--config 'P4 causal lanes 2L']
 *
 * Each file is a `bench --sweep` or `bench --cascade` JSON report; prints, per model, the median
 * of the configuration's speed-up vs P0 ÷ ceiling and laneScaling ÷ ceiling, P0's efficiency and
 * overhead, each marked against its goal.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatSpeedGoals, readSpeedGoals, type GoalRecord } from '../src/bench/speed-goals.js';
import { GOAL_CONFIGURATION } from '../src/bench/sweep.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { config: { type: 'string', default: GOAL_CONFIGURATION } } });
if (positionals.length === 0) throw new Error('usage: tools/speed-goals.ts FILE.json… [--config LABEL]');
const invocations = positionals.map((file) => {
  const report = JSON.parse(readFileSync(file, 'utf8')) as { records?: GoalRecord[] };
  if (!Array.isArray(report.records)) throw new Error(`${file}: no "records" array (not a bench --sweep or --cascade report)`);
  return report.records;
});
console.log(formatSpeedGoals(readSpeedGoals(invocations, values.config as string), values.config as string));
