/**
 * Block-wise feature caching, measured: each policy setting against `none` in the same run, at
 * P0 on one lane and P4 on two, on one model at N steps. Speed is blocks per second, median of
 * interleaved repeats; the schedule's bound is forwards ÷ computed forwards; quality is the PSNR
 * of decoded frames against `none` (same seeds; the first block and the whole video) and the
 * quality probe's colour, direction and integrity over a few seeds and prompts.
 */
import { performance } from 'node:perf_hooks';
import { createRuntime, type Runtime } from '../api/runtime.js';
import type { Frame } from '../core/api-types.js';
import type { Parallelism } from '../core/cascade-options.js';
import type { FeatureCacheOptions, FeatureCachePolicyName } from '../core/feature-cache.js';
import { median } from '../core/median.js';
import { CACHING_GOALS } from './caching-goals.js';
import { roundOrder } from './measure.js';
import { parsePrompt } from '../data/prompt.js';
import { frameDrift } from '../quality/drift.js';
import { probeVideo } from '../quality/probe.js';
import { meanInterval, type MeanInterval } from '../quality/stats.js';
import { videoSsim } from '../quality/ssim.js';

/** One configuration of a setting: a policy (none: δ null) through an execution mode. */
export interface CachingConfig {
  readonly policy: FeatureCachePolicyName;
  readonly threshold: number | null;
  readonly exec: string;
}

/** A cascade setting: its level and lanes, and the configurations measured on it. */
export interface CachingSetting {
  readonly parallelism: Parallelism;
  readonly lanes: number;
  /** The first is the reference (`none`) that speed-ups and PSNR compare with. */
  readonly configs: readonly CachingConfig[];
}

export interface CachingBenchOptions {
  readonly model?: string;
  readonly steps: number;
  readonly settings: readonly CachingSetting[];
  /** Blocks per speed run. */
  readonly blocks: number;
  /** Timed runs per configuration (after one warm-up run each), interleaved. */
  readonly repeats: number;
  /** Seeds × prompts of the quality part, `qualityBlocks` blocks each. */
  readonly seeds: readonly number[];
  readonly prompts: readonly string[];
  readonly qualityBlocks: number;
  readonly onProgress?: (line: string) => void;
}

/** One configuration's figures. */
export interface CachingRecord {
  readonly steps: number;
  readonly policy: FeatureCachePolicyName;
  readonly threshold: number | null;
  readonly exec: string;
  readonly parallelism: Parallelism;
  readonly lanes: number;
  readonly blocksPerSecond: number;
  /** Blocks per second ÷ the reference's (the setting's first configuration), same run. */
  readonly speedup: number;
  /** Share of layer evaluations skipped: reused forwards ÷ forwards (a reused forward runs no layer; fbcache's runs its first). */
  readonly skippedShare: number;
  /** What the schedule allows at most: forwards ÷ computed forwards (fbcache's reused ones counting their first layer). */
  readonly bound: number;
  /** Milliseconds the lanes spent on the feature cache per block (indicator, stores, residuals). */
  readonly featureMsPerBlock: number;
  /** Mean PSNR (dB) against the reference over the quality videos: first block, whole video (99 when identical). */
  readonly psnrFirstBlockDb: number;
  /** The lowest first-block PSNR (dB) of any quality video: a mean can hide a few poor cases. */
  readonly psnrFirstBlockWorstDb: number;
  /** Share of the quality videos whose first block reads under 30 dB (the goal's floor). */
  readonly firstBlocksUnder30Db: number;
  readonly psnrVideoDb: number;
  /** Mean SSIM (luma) of the whole video against the reference (1 when identical). */
  readonly ssim: number;
  readonly colour: MeanInterval;
  readonly direction: MeanInterval;
  readonly integrity: MeanInterval;
}

/** PSNR given to identical videos, so that means stay finite. */
const IDENTICAL_DB = 99;

/**
 * The peer policies `bench --caching` measures beside bwcache (through `layered`): teacache at
 * its paper's two thresholds (0.1 and 0.2 of accumulated, calibrated change) and fbcache at 0.1.
 */
export const PEER_POLICIES: readonly Omit<CachingConfig, 'exec'>[] = [
  { policy: 'teacache', threshold: 0.1 },
  { policy: 'teacache', threshold: 0.2 },
  { policy: 'fbcache', threshold: 0.1 },
];

/**
 * The default plan: at P0 on 1 lane, none (joint, the reference; layered) and bwcache at each δ
 * (layered); at P4 on 2 lanes, none (joint, the reference; lanes; layered) and bwcache at each δ
 * through lanes and through layered; the peer policies (`PEER_POLICIES`) through layered at both.
 */
export function defaultCachingSettings(thresholds: readonly number[], peers: readonly Omit<CachingConfig, 'exec'>[] = PEER_POLICIES): CachingSetting[] {
  const bw = (exec: string) => [...thresholds.map((threshold): CachingConfig => ({ policy: 'bwcache', threshold, exec })), ...(exec === 'layered' ? peers.map((p) => ({ ...p, exec })) : [])];
  return [
    { parallelism: 0, lanes: 1, configs: [{ policy: 'none', threshold: null, exec: 'joint' }, { policy: 'none', threshold: null, exec: 'layered' }, ...bw('layered')] },
    {
      parallelism: 4,
      lanes: 2,
      configs: [
        { policy: 'none', threshold: null, exec: 'joint' },
        { policy: 'none', threshold: null, exec: 'lanes' },
        { policy: 'none', threshold: null, exec: 'layered' },
        ...bw('lanes'),
        ...bw('layered'),
      ],
    },
  ];
}

const featureCacheOf = (c: CachingConfig): FeatureCacheOptions => (c.policy === 'none' ? { policy: 'none' } : { policy: c.policy, threshold: c.threshold as number });

async function generate(runtime: Runtime, request: { seed: number; blocks: number; prompt: string }, steps: number, parallelism: Parallelism, c: CachingConfig) {
  const before = runtime.stats();
  const start = performance.now();
  const frames: Frame[] = [];
  for await (const frame of runtime.generate(request, { steps, cascade: { parallelism, exec: c.exec }, featureCache: featureCacheOf(c) })) frames.push(frame);
  const ms = performance.now() - start;
  const after = runtime.stats();
  return { frames, ms, forwards: after.forwards - before.forwards, reused: after.reusedForwards - before.reusedForwards, featureMs: after.featureCacheMs - before.featureCacheMs };
}

/**
 * Runs the plan; one runtime per setting.
 *
 * @example
 * ```ts
 * const records = await runCachingBench({ steps: 32, settings: defaultCachingSettings([0.1, 0.15]), blocks: 6, repeats: 3, seeds: [0, 1], prompts: ['red ball moving left'], qualityBlocks: 4 });
 * ```
 */
export async function runCachingBench(o: CachingBenchOptions): Promise<CachingRecord[]> {
  const records: CachingRecord[] = [];
  for (const setting of o.settings) {
    const runtime = await createRuntime({ ...(o.model ? { model: o.model } : {}), lanes: setting.lanes });
    const framesPerBlock = runtime.manifest.framesPerBlock;
    // The share of a forward's layers a reused step skips: all of them, but fbcache's still runs layer 0.
    const reusedLayers = (policy: string) => (policy === 'fbcache' ? (runtime.manifest.layers - 1) / runtime.manifest.layers : 1);
    try {
      const speedRequest = { seed: 1000, blocks: o.blocks, prompt: o.prompts[0] ?? 'red ball moving left' };
      // Speed: one warm-up run each, then `repeats` rounds with every configuration once per round,
      // in `roundOrder` (the reference always first, after the last one's graphs, read faster).
      const times = setting.configs.map(() => [] as number[]);
      const counts = setting.configs.map(() => ({ forwards: 0, reused: 0, featureMs: 0, blocks: 0 }));
      for (const c of setting.configs) await generate(runtime, speedRequest, o.steps, setting.parallelism, c);
      for (let r = 0; r < o.repeats; r++) {
        for (const i of roundOrder(setting.configs.length, r)) {
          const c = setting.configs[i] as CachingConfig;
          const run = await generate(runtime, speedRequest, o.steps, setting.parallelism, c);
          (times[i] as number[]).push((o.blocks * 1000) / run.ms);
          const count = counts[i] as { forwards: number; reused: number; featureMs: number; blocks: number };
          count.forwards += run.forwards;
          count.reused += run.reused;
          count.featureMs += run.featureMs;
          count.blocks += o.blocks;
        }
        o.onProgress?.(`P${setting.parallelism} ${setting.lanes} lane(s): speed round ${r + 1}/${o.repeats}`);
      }
      // Quality: the same seeds and prompts under every configuration, against the reference.
      const cases = o.seeds.flatMap((seed) => o.prompts.map((prompt) => ({ seed, prompt })));
      const reference: Frame[][] = [];
      const quality = setting.configs.map(() => ({ first: [] as number[], video: [] as number[], ssim: [] as number[], colour: [] as number[], direction: [] as number[], integrity: [] as number[] }));
      for (const [i, c] of setting.configs.entries()) {
        for (const [k, kase] of cases.entries()) {
          const { frames } = await generate(runtime, { ...kase, blocks: o.qualityBlocks }, o.steps, setting.parallelism, c);
          if (i === 0) reference[k] = frames;
          const ref = reference[k] as Frame[];
          const q = quality[i] as (typeof quality)[number];
          q.first.push(Math.min(IDENTICAL_DB, frameDrift(frames.slice(0, framesPerBlock), ref.slice(0, framesPerBlock)).psnrDb));
          q.video.push(Math.min(IDENTICAL_DB, frameDrift(frames, ref).psnrDb));
          q.ssim.push(videoSsim(frames, ref));
          const facts = parsePrompt(kase.prompt);
          const report = probeVideo(frames, { framesPerBlock, prompts: Array.from({ length: o.qualityBlocks }, () => ({ colour: facts.colour, direction: facts.direction, shape: facts.shape })) });
          q.colour.push(report.colourAdherence);
          q.direction.push(report.directionAdherence);
          q.integrity.push(report.integrity);
        }
        o.onProgress?.(`P${setting.parallelism} ${setting.lanes} lane(s): quality of ${c.policy}${c.threshold === null ? '' : ` δ=${c.threshold}`} (${c.exec})`);
      }
      const referenceSpeed = median(times[0] as number[]);
      setting.configs.forEach((c, i) => {
        const n = counts[i] as (typeof counts)[number];
        const q = quality[i] as (typeof quality)[number];
        const bps = median(times[i] as number[]);
        const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
        records.push({
          steps: o.steps,
          policy: c.policy,
          threshold: c.threshold,
          exec: c.exec,
          parallelism: setting.parallelism,
          lanes: setting.lanes,
          blocksPerSecond: bps,
          speedup: bps / referenceSpeed,
          skippedShare: n.forwards === 0 ? 0 : (n.reused * reusedLayers(c.policy)) / n.forwards,
          bound: n.forwards === 0 ? 1 : n.forwards / (n.forwards - n.reused * reusedLayers(c.policy)),
          featureMsPerBlock: n.blocks === 0 ? 0 : n.featureMs / n.blocks,
          psnrFirstBlockDb: mean(q.first),
          psnrFirstBlockWorstDb: Math.min(IDENTICAL_DB, ...q.first),
          firstBlocksUnder30Db: q.first.length === 0 ? 0 : q.first.filter((db) => db < CACHING_GOALS.psnrFirstBlockDb).length / q.first.length,
          psnrVideoDb: mean(q.video),
          ssim: mean(q.ssim),
          colour: meanInterval(q.colour),
          direction: meanInterval(q.direction),
          integrity: meanInterval(q.integrity),
        });
      });
    } finally {
      await runtime.close();
    }
  }
  return records;
}

/** A Markdown table of the records. */
export function cachingTable(records: readonly CachingRecord[]): string {
  const pct = (m: MeanInterval) => `${(m.mean * 100).toFixed(0)} ± ${(m.ci95 * 100).toFixed(0)}%`;
  const lines = [
    '| steps | setting | policy | exec | blocks/s | speed-up | skipped | bound | PSNR first block (worst) | PSNR video | SSIM | colour | direction | integrity |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of records) {
    lines.push(
      `| ${r.steps} | P${r.parallelism}, ${r.lanes} lane${r.lanes === 1 ? '' : 's'} | ${r.policy}${r.threshold === null ? '' : ` δ = ${r.threshold}`} | ${r.exec} | ${r.blocksPerSecond.toFixed(2)} | ${r.speedup.toFixed(2)}× | ${(r.skippedShare * 100).toFixed(0)}% | ${r.bound.toFixed(2)}× | ` +
        `${r.psnrFirstBlockDb >= IDENTICAL_DB ? '=' : `${r.psnrFirstBlockDb.toFixed(1)} (${r.psnrFirstBlockWorstDb.toFixed(1)})`} | ${r.psnrVideoDb >= IDENTICAL_DB ? '=' : r.psnrVideoDb.toFixed(1)} | ${r.ssim.toFixed(3)} | ${pct(r.colour)} | ${pct(r.direction)} | ${pct(r.integrity)} |`,
    );
  }
  return lines.join('\n');
}

const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

/**
 * An SVG scatter of speed-up (filled) and the schedule's bound (hollow) against first-block PSNR,
 * one colour per setting and mode; `none` (identical frames) is drawn at the right edge.
 *
 * @example
 * ```ts
 * await writeFile('caching.svg', cachingPlot(records, 'bwcache at 32 steps'));
 * ```
 */
export function cachingPlot(records: readonly CachingRecord[], title: string): string {
  const width = 760;
  const height = 420;
  const left = 60;
  const right = 230;
  const top = 40;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const cached = records.filter((r) => r.policy !== 'none');
  const finite = cached.map((r) => r.psnrFirstBlockDb).filter((db) => db < IDENTICAL_DB);
  const minDb = Math.floor(Math.min(25, ...finite) / 5) * 5;
  const maxDb = Math.ceil(Math.max(40, ...finite) / 5) * 5 + 5;
  const maxY = Math.ceil(Math.max(2, ...records.map((r) => Math.max(r.speedup, r.bound))) + 0.5);
  const x = (db: number) => left + ((Math.min(db, maxDb) - minDb) / (maxDb - minDb)) * plotW;
  const y = (v: number) => top + plotH - (v / maxY) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15">${title.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="black"/>`,
    `<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">PSNR of the first block against none (dB); right edge: identical</text>`,
    `<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">speed-up (filled), bound (hollow)</text>`,
  ];
  for (let db = minDb; db <= maxDb; db += 5) parts.push(`<text x="${x(db)}" y="${top + plotH + 18}" text-anchor="middle">${db}</text>`, `<line x1="${x(db)}" y1="${top}" x2="${x(db)}" y2="${top + plotH}" stroke="#eee"/>`);
  for (let v = 0; v <= maxY; v += 0.5) parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}×</text>`, `<line x1="${left}" y1="${y(v)}" x2="${left + plotW}" y2="${y(v)}" stroke="${v === 1 ? '#999' : '#eee'}"/>`);
  const families = new Map<string, CachingRecord[]>();
  for (const r of records) {
    const key = `P${r.parallelism}, ${r.lanes} lane${r.lanes === 1 ? '' : 's'}, ${r.exec}`;
    families.set(key, [...(families.get(key) ?? []), r]);
  }
  [...families.entries()].forEach(([key, rs], i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    for (const r of rs) {
      const cx = x(r.psnrFirstBlockDb);
      parts.push(`<circle cx="${cx}" cy="${y(r.speedup)}" r="4.5" fill="${colour}"><title>${key} ${r.policy}${r.threshold === null ? '' : ` δ = ${r.threshold}`}: ${r.speedup.toFixed(2)}×</title></circle>`);
      if (r.policy !== 'none') parts.push(`<circle cx="${cx}" cy="${y(r.bound)}" r="4.5" fill="none" stroke="${colour}" stroke-width="1.5"/>`);
    }
    const ly = top + 10 + i * 18;
    parts.push(`<circle cx="${left + plotW + 22}" cy="${ly}" r="4.5" fill="${colour}"/>`, `<text x="${left + plotW + 34}" y="${ly + 4}">${key}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
