/**
 * Draws the training loss curve (loss.csv from train.py) as an SVG with a log-scale y axis.
 *
 * npx tsx tools/train/plot-loss.ts docs/training-loss.svg run1/loss.csv [run2/loss.csv …]
 * (a resumed run's loss.csv continues the step count of the run before it)
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface LossPoint {
  readonly step: number;
  readonly seconds: number;
  readonly loss: number;
  readonly atSamplerSigmas: number;
  /** The first-block distillation loss (runs with --pairs); 0 when the run had none. */
  readonly firstBlock: number;
}

const HEADERS = ['step,seconds,loss,loss_sampler_sigmas', 'step,seconds,loss,loss_sampler_sigmas,loss_first_block'];

function readLoss(file: string): LossPoint[] {
  const [header, ...rows] = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  if (!HEADERS.includes(header ?? '')) throw new Error(`${file}: unexpected header ${header}, expected one of ${HEADERS.join(' | ')}`);
  return rows.map((row, i) => {
    const [step, seconds, loss, atSamplerSigmas, firstBlock = 0] = row.split(',').map(Number) as [number, number, number, number, number?];
    if (![step, seconds, loss].every(Number.isFinite)) throw new Error(`${file}:${i + 2}: not a number in "${row}"`);
    return { step, seconds, loss, atSamplerSigmas, firstBlock };
  });
}

function plot(points: readonly LossPoint[], title: string): string {
  const W = 720, H = 400, left = 70, right = 200, top = 40, bottom = 50;
  const pw = W - left - right, ph = H - top - bottom;
  const values = points.flatMap((p) => [p.loss, p.atSamplerSigmas, p.firstBlock]).filter((v) => v > 0 && Number.isFinite(v));
  const lo = Math.floor(Math.log10(Math.min(...values))), hi = Math.ceil(Math.log10(Math.max(...values)));
  const maxStep = Math.max(...points.map((p) => p.step));
  const x = (step: number) => left + (step / maxStep) * pw;
  const y = (v: number) => top + ph - ((Math.log10(v) - lo) / (hi - lo)) * ph;
  const line = (pick: (p: LossPoint) => number, colour: string) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${points
      .filter((p) => pick(p) > 0)
      .map((p) => `${x(p.step).toFixed(1)},${y(pick(p)).toFixed(1)}`)
      .join(' ')}"/>`;
  const grid: string[] = [];
  for (let e = lo; e <= hi; e++) {
    grid.push(`<line x1="${left}" x2="${left + pw}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/>`);
    grid.push(`<text x="${left - 8}" y="${y(10 ** e) + 4}" text-anchor="end" font-size="12">1e${e}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const step = Math.round((maxStep * i) / 4);
    grid.push(`<text x="${x(step)}" y="${top + ph + 18}" text-anchor="middle" font-size="12">${step}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${left}" y="24" font-size="15">${title}</text>
${grid.join('\n')}
<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>
${line((p) => p.loss, '#1f77b4')}
${line((p) => p.atSamplerSigmas, '#d62728')}
${line((p) => p.firstBlock, '#2ca02c')}
<text x="${left + pw / 2}" y="${H - 10}" text-anchor="middle" font-size="12">training step</text>
<line x1="${left + pw + 15}" x2="${left + pw + 35}" y1="${top + 10}" y2="${top + 10}" stroke="#1f77b4" stroke-width="2"/>
<text x="${left + pw + 40}" y="${top + 14}" font-size="12">weighted flow loss</text>
<line x1="${left + pw + 15}" x2="${left + pw + 35}" y1="${top + 30}" y2="${top + 30}" stroke="#d62728" stroke-width="2"/>
<text x="${left + pw + 40}" y="${top + 34}" font-size="12">x̂0 MSE at sampler σ</text>
<line x1="${left + pw + 15}" x2="${left + pw + 35}" y1="${top + 50}" y2="${top + 50}" stroke="#2ca02c" stroke-width="2"/>
<text x="${left + pw + 40}" y="${top + 54}" font-size="12">first-block distillation</text>
</svg>
`;
}

const [output, ...inputs] = process.argv.slice(2);
if (output === undefined || inputs.length === 0) {
  console.error('usage: npx tsx tools/train/plot-loss.ts <out.svg> <loss.csv> [<loss.csv> …]');
  process.exit(2);
}
const points = inputs.flatMap(readLoss);
writeFileSync(output, plot(points, `DiT training loss, ${points.at(-1)?.step ?? 0} steps`));
console.log(`wrote ${output} (${points.length} points, final loss ${points.at(-1)?.loss.toFixed(4)})`);
