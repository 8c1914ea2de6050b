/**
 * Block-wise feature caching on this machine: `npx tsx tools/caching-bench.ts [--steps 32]
 * [--thresholds 0.03,0.05,0.1,0.15,0.25] [--blocks 6] [--repeats 3] [--seeds 4] [--json FILE] [--plot FILE.svg]`.
 * The trained model (models/sprites) by default; prints a Markdown table (docs/caching.md).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { cachingPlot, cachingTable, defaultCachingSettings, runCachingBench } from '../src/bench/caching-bench.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    steps: { type: 'string', default: '32' },
    thresholds: { type: 'string', default: '0.03,0.05,0.1,0.15,0.25' },
    blocks: { type: 'string', default: '6' },
    repeats: { type: 'string', default: '3' },
    seeds: { type: 'string', default: '4' },
    'quality-blocks': { type: 'string', default: '4' },
    json: { type: 'string' },
    plot: { type: 'string' },
  },
});
const thresholds = values.thresholds.split(',').map(Number);
const started = Date.now();
const records = await runCachingBench({
  ...(values.model ? { model: values.model } : {}),
  steps: Number(values.steps),
  settings: defaultCachingSettings(thresholds),
  blocks: Number(values.blocks),
  repeats: Number(values.repeats),
  seeds: Array.from({ length: Number(values.seeds) }, (_, i) => i),
  prompts: ['red ball moving left', 'blue square moving up', 'green triangle moving right', 'yellow ball moving down'],
  qualityBlocks: Number(values['quality-blocks']),
  onProgress: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${cachingTable(records)}\n`);
process.stderr.write(`caching bench: ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
if (values.json) await writeFile(values.json, `${JSON.stringify(records, null, 2)}\n`);
if (values.plot) await writeFile(values.plot, `${cachingPlot(records, `bwcache on ${values.model ?? 'models/sprites'}, ${values.steps} steps`)}\n`);
