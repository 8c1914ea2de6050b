/**
 * Concurrent sessions in the inspector. The model: generations placed on one clock, grouped by
 * overlap, and each session's swimlane (its ticks and handed-out blocks). The page, in headless
 * Chromium, on a trace of two sessions that ran at once on one runtime's two lanes and wrote
 * into one sink: both swimlanes and both sessions' bars show, and the session filter leaves one
 * session's lane tasks only. No sleeps: every wait is for a condition, with a timeout.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../src/index.js';
import type { MetaRecord, TraceRecord } from '../src/core/trace-records.js';
import { toJsonl } from '../src/trace/jsonl.js';
import { startInspector, type Inspector } from '../src/inspector/server.js';
import { generations, parseTrace } from '../src/inspector/trace-file.js';
import { alignGenerations, concurrentGroup, generationSpans } from '../src/inspector/session-groups.js';
import { deriveSessionsModel, type SessionsModel } from '../src/inspector/sessions-model.js';
import type { TraceModel } from '../src/inspector/model.js';
import { runCli } from './support/cli.js';
import { RANDOM_MODEL } from './support/models.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const WAIT = { timeout: 15_000 };

/** A minimal generation: meta at `startedAt`, one tick on `lane` from `t0` to `t1`, a frame, an end. */
function generation(session: number | undefined, startedAt: number, lane: number, t0: number, t1: number): TraceRecord[] {
  const tag = session === undefined ? {} : { session };
  const meta = { kind: 'meta', t: 0, version: 1, startedAt, ...tag, model: 'm', lanes: 2, parallelism: 0, attention: 'causal', exec: 'joint', recache: 'off', seed: 1, blocks: 1, framesPerBlock: 3, kvCapacity: 4, blockStates: ['queued', 't3', 't2', 't1', 't0', 'cache', 'done'] };
  const lane0 = { kind: 'lane', lane, task: 'tick', blocks: [0], stages: [0], tick: 0, ...tag };
  return [
    meta as unknown as MetaRecord,
    { ...lane0, phase: 'start', t: t0 } as TraceRecord,
    { ...lane0, phase: 'end', t: t1, runMs: t1 - t0 } as TraceRecord,
    { kind: 'frame', t: t1 + 1, block: 0, firstFrame: 0, frames: 3, ...tag },
    { kind: 'end', t: t1 + 2, blocks: 1, outcome: 'finished', ...tag },
  ];
}

describe('sessions model', () => {
  // Sessions 1 and 2 overlap (2 starts 5 ms after 1, both run ~20 ms); 3 starts after both ended.
  const gens = [generation(1, 1000, 0, 2, 20), generation(2, 1005, 1, 1, 15), generation(3, 1100, 0, 1, 5)];

  it('places generations on one clock and groups those that overlap', () => {
    expect(generationSpans(gens)).toEqual([
      { index: 0, session: 1, start: 0, end: 22 },
      { index: 1, session: 2, start: 5, end: 22 },
      { index: 2, session: 3, start: 100, end: 107 },
    ]);
    expect(concurrentGroup(gens, 0)).toEqual([0, 1]);
    expect(concurrentGroup(gens, 1)).toEqual([0, 1]);
    expect(concurrentGroup(gens, 2)).toEqual([2]);
    expect(() => concurrentGroup(gens, 3)).toThrow(RangeError);
    // Aligned copies: session 2's records move 5 ms later, the input stays.
    const aligned = alignGenerations(gens);
    expect(aligned[1]?.map((r) => r.t)).toEqual([5, 6, 20, 21, 22]);
    expect(gens[1]?.[1]?.t).toBe(1);
  });

  it("builds each session's swimlane from its own records, on the shared clock", () => {
    // Interleaved in one sink, as concurrent sessions write them: generations() takes them apart.
    const at = (r: TraceRecord): number => r.t + (r.session === 2 ? 5 : 0);
    const sink = [...(gens[0] as TraceRecord[]), ...(gens[1] as TraceRecord[])].sort((a, b) => at(a) - at(b));
    expect(sink.map((r) => r.session)).toEqual([1, 1, 2, 2, 1, 2, 1, 2, 1, 2]);
    const model = deriveSessionsModel(generations(sink));
    expect(model.sessions.map((s) => [s.id, s.label, s.start])).toEqual([[1, 'session 1', 0], [2, 'session 2', 5]]);
    expect(model.duration).toBe(22);
    const [one, two] = model.sessions;
    expect(one?.swimlane).toEqual({ ticks: [{ tick: 0, start: 2, end: 20, blocks: [0] }], frames: [{ t: 21, block: 0 }] });
    expect(two?.swimlane).toEqual({ ticks: [{ tick: 0, start: 6, end: 20, blocks: [0] }], frames: [{ t: 21, block: 0 }] });
    expect(two?.model.tasks.map((t) => [t.lane, t.start])).toEqual([[1, 6]]);
    // Traces recorded before ids: named by their position.
    expect(deriveSessionsModel([generation(undefined, 0, 0, 1, 2)]).sessions[0]?.label).toBe('generation 1');
    // Two runtimes' generations appended to one file may share an id: the page needs them apart.
    const repeated = deriveSessionsModel([generation(1, 0, 0, 1, 2), generation(1, 10, 0, 1, 2)]).sessions;
    expect(repeated.map((x) => [x.id, x.label])).toEqual([[1, 'session 1'], [3, 'session 1 (generation 2)']]);
  });
});

// Page-side functions run in Chromium; the test compiles without the DOM lib.
interface PageGlobals {
  readonly document: { querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }> };
}
const countAtLeast = ([selector, min]: readonly [string, number]): boolean => (globalThis as unknown as PageGlobals).document.querySelectorAll(selector).length >= min;
const countIs = ([selector, n]: readonly [string, number]): boolean => (globalThis as unknown as PageGlobals).document.querySelectorAll(selector).length === n;

describe('inspector page with two concurrent sessions', () => {
  let browser: Browser;
  let inspector: Inspector;
  let page: Page;
  const errors: string[] = [];
  let ids: number[] = [];
  let shared: TraceRecord[] = [];

  beforeAll(async () => {
    const runtime = await createRuntime({ model: RANDOM_MODEL, lanes: 2, maxSessions: 2 });
    try {
      shared = [];
      const runs = [0, 1].map(async (seed) => {
        for await (const _ of runtime.generate({ seed, blocks: 3, prompt: 'red ball moving left' }, { cascade: { parallelism: 4 }, trace: (r) => shared.push(r) })) void _;
      });
      await Promise.all(runs);
    } finally {
      await runtime.close();
    }
    // Through the file format, as `inspect` reads it.
    const records = parseTrace(toJsonl(shared), 'two-sessions.jsonl');
    ids = [...new Set(records.filter((r) => r.kind === 'meta').map((r) => r.session as number))];
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    inspector = await startInspector({ records });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(inspector.url);
    await page.waitForSelector('#swimlanes .swimlane', WAIT);
  }, 60_000);
  afterAll(async () => {
    await page?.close();
    await inspector?.close();
    await browser?.close();
  });

  it('ran the two sessions at the same time, so the inspector serves both', async () => {
    expect(ids).toHaveLength(2);
    const gens = generations(shared);
    expect(concurrentGroup(gens, gens.length - 1)).toEqual([0, 1]);
    const served = (await (await fetch(`${inspector.url}sessions`)).json()) as SessionsModel;
    expect(served.sessions.map((s) => s.id).sort()).toEqual([...ids].sort());
    const one = (await (await fetch(`${inspector.url}model?session=${ids[0]}`)).json()) as TraceModel;
    expect(one.meta?.session).toBe(ids[0]);
    expect((await fetch(`${inspector.url}model?session=12345`)).status).toBe(404);
  });

  it("shows one swimlane per session and both sessions' lane tasks, told apart by session", async () => {
    expect(await page.locator('#swimlanes .swimlane').count()).toBe(2);
    for (const id of ids) {
      expect(await page.locator(`#swimlanes .swimlane[data-session="${id}"] .sl-tick`).count(), `session ${id}`).toBeGreaterThan(0);
      const forwards = shared.filter((r) => r.session === id && r.kind === 'lane' && r.phase === 'end' && (r.task === 'tick' || r.task === 'share')).length;
      expect(forwards).toBeGreaterThan(0);
      expect(await page.locator(`#timeline .bar[data-session="${id}"]`).count(), `session ${id}`).toBe(forwards);
      expect(await page.locator(`#timeline .bar[data-session="${id}"] .session-stripe`).count()).toBe(forwards);
    }
    expect(await page.locator('#session-filter option').count()).toBe(3);
    expect(await page.locator('#sessions-section').isVisible()).toBe(true);
  });

  it('the filter keeps one session in every view, and "all" brings both back', async () => {
    const [first, second] = ids as [number, number];
    await page.locator('#session-filter').selectOption(String(second));
    await page.waitForFunction(countIs, ['#swimlanes .swimlane', 1] as const, WAIT);
    expect(await page.locator(`#swimlanes .swimlane[data-session="${second}"]`).count()).toBe(1);
    expect(await page.locator(`#timeline .bar[data-session="${first}"]`).count()).toBe(0);
    expect(await page.locator('#timeline .bar').count()).toBe(await page.locator(`#timeline .bar[data-session="${second}"]`).count());
    expect(await page.locator('#timeline .bar').count()).toBeGreaterThan(0);
    // The block views follow the filter: a block's details name its session.
    await page.locator('#timeline .bar .seg[data-block="1"]').first().click();
    await expect.poll(() => page.locator('#block-details h2').textContent(), WAIT).toBe('Block 1');
    expect(await page.locator('#block-details .session-of').getAttribute('data-session')).toBe(String(second));
    await page.locator('#session-filter').selectOption('all');
    await page.waitForFunction(countAtLeast, ['#swimlanes .swimlane', 2] as const, WAIT);
    expect(await page.locator(`#timeline .bar[data-session="${first}"]`).count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });

  it('live: a new session joins the running one instead of replacing it; ended ones go', async () => {
    const live = await startInspector({ live: true });
    try {
      const livePage = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      livePage.on('pageerror', (error) => errors.push(error.message));
      try {
        await livePage.goto(live.url);
        await livePage.waitForSelector('#live-status[data-state="open"]', WAIT);
        for (const r of shared) live.push(r);
        expect(live.records()).toHaveLength(shared.length);
        await livePage.waitForFunction(countIs, ['#swimlanes .swimlane', 2] as const, WAIT);
        const forwards = shared.filter((r) => r.kind === 'lane' && r.phase === 'end' && (r.task === 'tick' || r.task === 'share')).length;
        await livePage.waitForFunction(countIs, ['#timeline .bar:not(.open)', forwards] as const, WAIT);
      } finally {
        await livePage.close();
      }
      expect(errors).toEqual([]);
      // Both ended: the next generation starts alone.
      const next = generation(99, Date.now(), 0, 1, 2);
      live.push(next[0] as TraceRecord);
      expect(live.records()).toEqual([next[0]]);
    } finally {
      await live.close();
    }
  });

  it('inspect: shows overlapping sessions together by default, one with --generation n', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'inspect-sessions-')), 'two.jsonl');
    writeFileSync(file, toJsonl(shared));
    const both = await runCli(['inspect', file, '--no-serve']);
    expect(both.stderr).toBe('');
    expect(both.code).toBe(0);
    for (const id of ids) expect(both.stdout).toContain(`session ${id})`);
    expect(both.stdout).toContain('2 sessions ran at the same time');
    const one = await runCli(['inspect', file, '--no-serve', '--generation', '1']);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain(`${file} (generation 1 of 2): P4`);
    expect(one.stdout).not.toContain('sessions ran at the same time');
  });
});
