/**
 * A dependency-free SVG line chart of FPS against the P level, one line per configuration
 * family; P0's baselines are drawn as horizontal reference lines.
 */
import type { CascadeRecord } from './cascade-bench.js';

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * @example
 * ```ts
 * await writeFile('docs/cascade-fps.svg', fpsPlot(records, 'FPS by parallelism level'));
 * ```
 */
export function fpsPlot(records: readonly CascadeRecord[], title: string): string {
  const width = 720;
  const height = 420;
  const left = 60;
  const right = 250;
  const top = 40;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const maxFps = Math.max(...records.map((r) => r.fps)) * 1.1;
  const x = (p: number) => left + (p / 4) * plotW;
  const y = (fps: number) => top + plotH - (fps / maxFps) * plotH;
  const families = new Map<string, CascadeRecord[]>();
  for (const r of records.filter((r) => r.parallelism > 0)) {
    const key = `${r.attention} ${r.exec} ${r.lanes}L${r.threadsPerLane > 1 ? `×${r.threadsPerLane}T` : ''}`;
    families.set(key, [...(families.get(key) ?? []), r]);
  }
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15">${escape(title)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`,
  ];
  for (let p = 0; p <= 4; p++) parts.push(`<text x="${x(p)}" y="${top + plotH + 18}" text-anchor="middle">P${p}</text>`);
  for (let i = 0; i <= 4; i++) {
    const fps = (maxFps * i) / 4;
    parts.push(`<text x="${left - 6}" y="${y(fps) + 4}" text-anchor="end">${fps.toFixed(0)}</text>`);
    parts.push(`<line x1="${left}" y1="${y(fps)}" x2="${left + plotW}" y2="${y(fps)}" stroke="#eee"/>`);
  }
  parts.push(`<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">parallelism level</text>`);
  parts.push(`<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">FPS (latent frames/s)</text>`);
  let legend = 0;
  const legendEntry = (label: string, colour: string, dashed: boolean) => {
    const ly = top + 10 + legend++ * 18;
    parts.push(`<line x1="${left + plotW + 15}" y1="${ly}" x2="${left + plotW + 40}" y2="${ly}" stroke="${colour}" stroke-width="2"${dashed ? ' stroke-dasharray="5,4"' : ''}/>`);
    parts.push(`<text x="${left + plotW + 46}" y="${ly + 4}">${escape(label)}</text>`);
  };
  for (const r of records.filter((r) => r.parallelism === 0)) {
    parts.push(`<line x1="${left}" y1="${y(r.fps)}" x2="${left + plotW}" y2="${y(r.fps)}" stroke="#555" stroke-dasharray="5,4"/>`);
    legendEntry(`${r.label} (${r.lanes}×${r.threadsPerLane})`, '#555', true);
  }
  [...families.entries()].forEach(([key, rs], i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    const points = rs.sort((a, b) => a.parallelism - b.parallelism).map((r) => `${x(r.parallelism)},${y(r.fps)}`);
    parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const point of points) {
      const [px, py] = point.split(',');
      parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${colour}"/>`);
    }
    legendEntry(key, colour, false);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** What {@link sweepPlot} draws of one size. */
export interface SweepPlotPanel {
  readonly title: string;
  readonly records: readonly CascadeRecord[];
  /** The ceiling of the size's run; not drawn when null. */
  readonly ceiling: number | null;
}

/**
 * The size sweep as small multiples, one panel per size: speed-up vs P0 (1 lane) against the P
 * level, one line per configuration family (as {@link fpsPlot}), P0 at 1× and the run's ceiling
 * as dashed horizontal marks. All panels share the y scale.
 *
 * @example
 * ```ts
 * await writeFile('sweep.svg', sweepPlot(results.map((r) => ({ title: r.size, records: r.records, ceiling: r.ceiling?.ceiling ?? null })), 'Speed-up by model size'));
 * ```
 */
export function sweepPlot(panels: readonly SweepPlotPanel[], title: string): string {
  const panelW = 260;
  const gap = 30;
  const left = 60;
  const top = 60;
  const bottom = 50;
  const plotH = 300;
  const legendW = 230;
  const width = left + panels.length * panelW + (panels.length - 1) * gap + 20 + legendW;
  const height = top + plotH + bottom;
  const values = panels.flatMap((p) => [...p.records.map((r) => r.speedupVsP0), ...(p.ceiling === null ? [] : [p.ceiling]), 1]);
  const maxY = Math.max(...values) * 1.1;
  const y = (v: number) => top + plotH - (v / maxY) * plotH;
  const familyOf = (r: CascadeRecord) => `${r.attention} ${r.exec} ${r.lanes}L${r.threadsPerLane > 1 ? `×${r.threadsPerLane}T` : ''}`;
  const families = [...new Set(panels.flatMap((p) => p.records.filter((r) => r.parallelism > 0).map(familyOf)))];
  const colourOf = (family: string) => COLOURS[families.indexOf(family) % COLOURS.length] as string;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15">${escape(title)}</text>`,
    `<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">speed-up vs P0 on 1 lane</text>`,
  ];
  panels.forEach((panel, i) => {
    const x0 = left + i * (panelW + gap);
    const x = (p: number) => x0 + (p / 4) * panelW;
    parts.push(`<text x="${x0 + panelW / 2}" y="${top - 12}" text-anchor="middle" font-size="13">${escape(panel.title)}</text>`);
    parts.push(`<line x1="${x0}" y1="${top + plotH}" x2="${x0 + panelW}" y2="${top + plotH}" stroke="black"/>`);
    parts.push(`<line x1="${x0}" y1="${top}" x2="${x0}" y2="${top + plotH}" stroke="black"/>`);
    for (let p = 0; p <= 4; p++) parts.push(`<text x="${x(p)}" y="${top + plotH + 18}" text-anchor="middle">P${p}</text>`);
    for (let t = 0; t <= 4; t++) {
      const v = (maxY * t) / 4;
      if (i === 0) parts.push(`<text x="${x0 - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}×</text>`);
      parts.push(`<line x1="${x0}" y1="${y(v)}" x2="${x0 + panelW}" y2="${y(v)}" stroke="#eee"/>`);
    }
    parts.push(`<line x1="${x0}" y1="${y(1)}" x2="${x0 + panelW}" y2="${y(1)}" stroke="#555" stroke-dasharray="5,4"/>`);
    if (panel.ceiling !== null) {
      parts.push(`<line x1="${x0}" y1="${y(panel.ceiling)}" x2="${x0 + panelW}" y2="${y(panel.ceiling)}" stroke="#d00" stroke-width="2" stroke-dasharray="8,4"/>`);
      parts.push(`<text x="${x0 + 4}" y="${y(panel.ceiling) - 5}" fill="#d00">ceiling ${panel.ceiling.toFixed(2)}×</text>`);
    }
    for (const family of families) {
      const rs = panel.records.filter((r) => r.parallelism > 0 && familyOf(r) === family).sort((a, b) => a.parallelism - b.parallelism);
      if (rs.length === 0) continue;
      const colour = colourOf(family);
      const points = rs.map((r) => `${x(r.parallelism)},${y(r.speedupVsP0)}`);
      parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
      for (const r of rs) parts.push(`<circle cx="${x(r.parallelism)}" cy="${y(r.speedupVsP0)}" r="3" fill="${colour}"/>`);
    }
  });
  parts.push(`<text x="${left + (panels.length * (panelW + gap) - gap) / 2}" y="${height - 10}" text-anchor="middle">parallelism level</text>`);
  const legendX = left + panels.length * (panelW + gap) - gap + 20;
  const legend: [string, string, string][] = [
    ['P0 on 1 lane (1×)', '#555', ' stroke-dasharray="5,4"'],
    ['ceiling (2 × P0 at once)', '#d00', ' stroke-dasharray="8,4"'],
    ...families.map((f): [string, string, string] => [f, colourOf(f), '']),
  ];
  legend.forEach(([label, colour, dash], i) => {
    const ly = top + 10 + i * 18;
    parts.push(`<line x1="${legendX}" y1="${ly}" x2="${legendX + 25}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${legendX + 31}" y="${ly + 4}">${escape(label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
