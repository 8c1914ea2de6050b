/**
 * Keeps the teacher pairs of `make-pairs.py` whose decoded first block the quality probe
 * accepts: the prompt's colour and direction, one sprite of plausible size in every frame.
 * Distilling only those makes the student's first block better than its teacher's ODE.
 *
 *   npx tsx tools/train/filter-pairs.ts tools/train/data/pairs
 *
 * Reads PREFIX.json and PREFIX.u8, writes PREFIX.keep.json ({ kept: [indices], … }).
 *
 * @example
 * ```sh
 * npx tsx tools/train/filter-pairs.ts tools/train/data/pairs   # 10240 pairs, 8322 kept (81.3%); rejected for colour 331, direction 1101, integrity 486
 * ```
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parsePrompt } from '../../src/data/prompt.js';
import { probeVideo } from '../../src/quality/probe.js';

interface PairsMeta {
  readonly count: number;
  readonly frames: number;
  readonly height: number;
  readonly width: number;
  readonly prompts: readonly string[];
}

const prefix = process.argv[2];
if (prefix === undefined) {
  console.error('usage: npx tsx tools/train/filter-pairs.ts PREFIX   (PREFIX.json and PREFIX.u8 from make-pairs.py)');
  process.exit(2);
}
const meta = JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as PairsMeta;
const bytes = readFileSync(`${prefix}.u8`);
const frameBytes = meta.height * meta.width * 3;
const pairBytes = meta.frames * frameBytes;
if (bytes.length !== meta.count * pairBytes) {
  throw new Error(`${prefix}.u8: ${bytes.length} bytes, expected ${meta.count} pairs × ${pairBytes} (${prefix}.json: count, frames, height, width)`);
}

const kept: number[] = [];
const rejected = { colour: 0, direction: 0, integrity: 0 };
for (let i = 0; i < meta.count; i++) {
  const facts = parsePrompt(meta.prompts[i] as string);
  const frames = Array.from({ length: meta.frames }, (_, f) => ({
    width: meta.width,
    height: meta.height,
    rgb: bytes.subarray(i * pairBytes + f * frameBytes, i * pairBytes + (f + 1) * frameBytes),
  }));
  const report = probeVideo(frames, {
    framesPerBlock: meta.frames,
    prompts: [{ colour: facts.colour, direction: facts.direction, shape: facts.shape }],
  });
  if (report.colourAdherence < 1) rejected.colour++;
  else if (report.directionAdherence < 1) rejected.direction++;
  else if (report.integrity < 1) rejected.integrity++;
  else kept.push(i);
}
writeFileSync(`${prefix}.keep.json`, JSON.stringify({ count: meta.count, rejected, kept }));
console.log(`${meta.count} pairs, ${kept.length} kept (${((100 * kept.length) / meta.count).toFixed(1)}%); rejected for colour ${rejected.colour}, direction ${rejected.direction}, integrity ${rejected.integrity}`);
