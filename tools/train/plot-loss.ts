/**
 * Draws training loss curves as an SVG with a log-scale y axis, one line per column of the CSV
 * files (train.py's and cascade_train.py's loss.csv: `step,seconds,<loss columns…>`).
 *
 * npx tsx tools/train/plot-loss.ts [--columns a,b] [--title T] <out.svg> <loss.csv> [<loss.csv> …]
 * (a resumed run's loss.csv continues the step count of the run before it)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** What each known column measures, for the legend. */
const LABELS: Record<string, string> = {
  loss: 'weighted flow loss',
  loss_sampler_sigmas: 'x̂0 MSE at sampler σ',
  loss_first_block: 'first-block distillation',
  loss_cascade: 'cascade rollout term',
  loss_teacher_forced: 'teacher-forced term',
  ...Object.fromEntries([0, 1, 2, 3, 4].map((p) => [`loss_P${p}`, `rollout term at P${p}`])),
};
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

interface Table {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly number[])[];
}

function readTable(file: string): Table {
  const [header = '', ...lines] = readFileSync(file, 'utf8').trim().split(/\r?\n/);
  const columns = header.split(',');
  if (columns[0] !== 'step' || columns[1] !== 'seconds' || columns.length < 3) throw new Error(`${file}: header "${header}" is not step,seconds,<loss columns…>`);
  const rows = lines.map((line, i) => {
    const row = line.split(',').map(Number);
    if (row.length !== columns.length || !row.every(Number.isFinite)) throw new Error(`${file}:${i + 2}: expected ${columns.length} numbers, got "${line}"`);
    return row;
  });
  return { columns, rows };
}

function plot(table: Table, series: readonly string[], title: string): string {
  const W = 760, H = 400, left = 70, right = 240, top = 40, bottom = 50;
  const pw = W - left - right, ph = H - top - bottom;
  const index = series.map((name) => table.columns.indexOf(name));
  const values = table.rows.flatMap((r) => index.map((i) => r[i] as number)).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...values))), hi = Math.ceil(Math.log10(Math.max(...values)));
  const steps = table.rows.map((r) => r[0] as number);
  const minStep = Math.min(...steps), maxStep = Math.max(...steps);
  const x = (step: number) => left + ((step - minStep) / Math.max(1, maxStep - minStep)) * pw;
  const y = (v: number) => top + ph - ((Math.log10(v) - lo) / (hi - lo)) * ph;
  const out: string[] = [];
  for (let e = lo; e <= hi; e++) {
    out.push(`<line x1="${left}" x2="${left + pw}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 8}" y="${y(10 ** e) + 4}" text-anchor="end" font-size="12">1e${e}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const step = Math.round(minStep + ((maxStep - minStep) * i) / 4);
    out.push(`<text x="${x(step)}" y="${top + ph + 18}" text-anchor="middle" font-size="12">${step}</text>`);
  }
  index.forEach((col, s) => {
    const colour = COLOURS[s % COLOURS.length] as string;
    const points = table.rows.filter((r) => (r[col] as number) > 0).map((r) => `${x(r[0] as number).toFixed(1)},${y(r[col] as number).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${points.join(' ')}"/>`);
    const ly = top + 10 + 20 * s;
    out.push(`<line x1="${left + pw + 15}" x2="${left + pw + 35}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${left + pw + 40}" y="${ly + 4}" font-size="12">${LABELS[series[s] as string] ?? series[s]}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${left}" y="24" font-size="15">${title}</text>
<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>
${out.join('\n')}
<text x="${left + pw / 2}" y="${H - 10}" text-anchor="middle" font-size="12">training step</text>
</svg>
`;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { columns: { type: 'string' }, title: { type: 'string' } } });
const [output, ...inputs] = positionals;
if (output === undefined || inputs.length === 0) {
  console.error('usage: npx tsx tools/train/plot-loss.ts [--columns a,b] [--title T] <out.svg> <loss.csv> [<loss.csv> …]');
  process.exit(2);
}
const tables = inputs.map(readTable);
// Later runs may log more columns (run 5 added the first-block loss): a column a file lacks reads 0, which is not drawn.
const columns = [...new Set(tables.flatMap((t) => t.columns))];
const rows = tables.flatMap((t) => t.rows.map((r) => columns.map((c) => (t.columns.includes(c) ? (r[t.columns.indexOf(c)] as number) : 0))));
const series = values.columns?.split(',') ?? columns.slice(2);
const unknown = series.find((s) => !columns.includes(s));
if (unknown !== undefined) throw new Error(`--columns: no column "${unknown}" (the files have ${columns.slice(2).join(', ')})`);
const table = { columns, rows };
writeFileSync(output, plot(table, series, values.title ?? `training loss, ${table.rows.at(-1)?.[0] ?? 0} steps`));
console.log(`wrote ${output} (${table.rows.length} points)`);
