/**
 * End to end: the inspector page in headless Chromium on a recorded P4 trace (2 lanes, lanes
 * execution, 12 blocks, a prompt switch at block 6), then live with records pushed one by one.
 * The page must draw one bar per forward, show a clicked block's stages with their durations,
 * move blocks between state-chart nodes as the scrubber moves, and load nothing from outside.
 *
 * Needs a Chromium binary: Debian's `/usr/bin/chromium` (`.ci/run` installs it) or
 * `CHROMIUM_PATH`. No sleeps: every wait is for a condition, with a timeout.
 */
import { readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInspector, type Inspector } from '../src/inspector/server.js';
import { parseTrace } from '../src/inspector/trace-file.js';
import type { TraceRecord } from '../src/core/trace-records.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const FIXTURE = 'test/fixtures/p4-lanes.jsonl';
const WAIT = { timeout: 15_000 };

/** The fixture's lines as plain objects: the test counts from these, not from the inspector's model. */
type Raw = Record<string, unknown> & { kind: string; t: number };
const lines: Raw[] = readFileSync(FIXTURE, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Raw);
const FORWARD_KINDS = ['tick', 'share', 'recache'];
const isForward = (r: Raw, phase: 'start' | 'end'): boolean => r.kind === 'lane' && r['phase'] === phase && FORWARD_KINDS.includes(String(r['task']));
const FORWARDS = lines.filter((r) => isForward(r, 'end')).length;
/** Block 3's state records: [state, entered at]. */
const BLOCK3 = lines.filter((r) => r.kind === 'state' && r['actor'] === 'block.3').map((r) => [String(r['state']), r.t] as const);

// Page-side functions run in Chromium; the test compiles without the DOM lib, so they reach the
// page through this minimal type. They are passed as functions: the page's CSP forbids eval.
interface PageGlobals {
  readonly document: { querySelectorAll(selector: string): { readonly length: number } };
}
const countAtLeast = ([selector, min]: readonly [string, number]): boolean => (globalThis as unknown as PageGlobals).document.querySelectorAll(selector).length >= min;

describe('inspector page', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Opens `url`, recording every request the page makes and every script error. */
  async function open(url: string): Promise<{ page: Page; requests: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(url);
    return { page, requests, errors };
  }

  describe('a recorded trace', () => {
    let inspector: Inspector;
    let page: Page;
    let requests: string[];
    let errors: string[];
    beforeAll(async () => {
      inspector = await startInspector({ records: parseTrace(readFileSync(FIXTURE, 'utf8'), FIXTURE) });
      ({ page, requests, errors } = await open(inspector.url));
      await page.waitForSelector('#timeline .bar', WAIT);
    });
    afterAll(async () => {
      await page?.close();
      await inspector?.close();
    });

    it('draws one bar per forward (lane tasks of kind tick, share, re-cache), on its lane', async () => {
      expect(FORWARDS).toBe(32);
      expect(await page.locator('#timeline .bar').count()).toBe(FORWARDS);
      for (const lane of [0, 1]) {
        const expected = lines.filter((r) => isForward(r, 'end') && r['lane'] === lane).length;
        expect(await page.locator(`#timeline .bar[data-lane="${lane}"]`).count()).toBe(expected);
      }
      expect(await page.locator('#forward-count').getAttribute('data-count')).toBe(String(FORWARDS));
      // Decodes are drawn, thin and grey, but are not bars.
      expect(await page.locator('#timeline .aux-decode').count()).toBe(lines.filter((r) => r.kind === 'lane' && r['task'] === 'decode' && r['phase'] === 'end').length);
      // The diagonal: 12 blocks × 5 stages, and the switch marker.
      expect(await page.locator('#diagonal .cell').count()).toBe(60);
      expect(await page.locator('#timeline .switch-marker').count()).toBe(1);
    });

    it("shows a clicked block's stages with their durations", async () => {
      await page.locator('#timeline .bar .seg[data-block="3"]').first().click();
      await expect.poll(() => page.locator('#block-details h2').textContent(), WAIT).toBe('Block 3');
      for (let i = 0; i + 1 < BLOCK3.length; i++) {
        const [state, at] = BLOCK3[i] as readonly [string, number];
        const next = (BLOCK3[i + 1] as readonly [string, number])[1];
        const text = (await page.locator(`#block-details tr[data-state="${state}"] td.dur`).textContent()) ?? '';
        expect(text, state).toMatch(/^\d+\.\d+ ms$/);
        // Shown to one or two decimals.
        expect(Math.abs(Number.parseFloat(text) - (next - at)), state).toBeLessThan(0.051);
      }
      expect(BLOCK3.map(([s]) => s)).toEqual(['queued', 't3', 't2', 't1', 't0', 'cache', 'done']);
      // The bars of block 3 are marked, the others dimmed.
      expect(await page.locator('#timeline .seg.selected').count()).toBe(await page.locator('#timeline .seg[data-block="3"]').count());
    });

    it('moves the block between state-chart nodes as the scrubber moves', async () => {
      // Before block 3 exists it is in no node.
      await page.locator('#scrubber').fill(String((BLOCK3[0]?.[1] ?? 0) / 2));
      await expect.poll(() => page.locator('#chart .chip[data-block="3"]').count(), WAIT).toBe(0);
      for (let i = 0; i < BLOCK3.length; i++) {
        const [state, at] = BLOCK3[i] as readonly [string, number];
        const next = BLOCK3[i + 1]?.[1] ?? at + 1;
        await page.locator('#scrubber').fill(String((at + next) / 2));
        await expect.poll(() => page.locator(`#state-${state} .chip[data-block="3"]`).count(), WAIT).toBe(1);
        expect(await page.locator('#chart .chip[data-block="3"]').count(), state).toBe(1);
        expect(await page.locator(`#state-${state}`).getAttribute('class'), state).toContain('current');
      }
    });

    it('loads nothing from outside the inspector and raises no script error', () => {
      expect(requests.length).toBeGreaterThan(0);
      for (const url of requests) expect(url.startsWith(inspector.url)).toBe(true);
      expect(errors).toEqual([]);
    });
  });

  it('live: follows records pushed one by one over a WebSocket', async () => {
    const inspector = await startInspector({ live: true });
    const { page, requests, errors } = await open(inspector.url);
    try {
      await page.waitForSelector('#live-status[data-state="open"]', WAIT);
      expect(await page.locator('#timeline .bar').count()).toBe(0);
      const half = Math.floor(lines.length / 2);
      const push = async (from: number, to: number): Promise<void> => {
        for (const r of lines.slice(from, to)) {
          inspector.push(r as unknown as TraceRecord);
          // Pacing only (records arrive over time, as in a run); the waits below synchronise.
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await push(0, half);
      // A bar appears when its task starts.
      const started = lines.slice(0, half).filter((r) => isForward(r, 'start')).length;
      expect(started).toBeGreaterThan(0);
      expect(started).toBeLessThan(FORWARDS);
      await page.waitForFunction(countAtLeast, ['#timeline .bar', started] as const, WAIT);
      expect(await page.locator('#timeline .bar').count()).toBe(started);
      await push(half, lines.length);
      await page.waitForFunction(countAtLeast, ['#forward-count[data-count="32"]', 1] as const, WAIT);
      expect(await page.locator('#timeline .bar').count()).toBe(FORWARDS);
      expect(await page.locator('#timeline .bar.open').count()).toBe(0);
      expect(inspector.records()).toHaveLength(lines.length);
      expect(requests.every((url) => url.startsWith(inspector.url) || url.startsWith(inspector.url.replace('http:', 'ws:')))).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await inspector.close();
    }
  });

  describe('an eight-step trace', () => {
    it('draws the N-step block machine, one bar per forward and the N + 1 stages of every block', async () => {
      const { createRuntime } = await import('../src/index.js');
      const { RANDOM_MODEL } = await import('./support/models.js');
      const runtime = await createRuntime({ lanes: 2, model: RANDOM_MODEL });
      const records: TraceRecord[] = [];
      try {
        for await (const _frame of runtime.generate({ seed: 2, blocks: 4, prompt: 'red ball moving left' }, { steps: 8, cascade: { parallelism: 4 }, trace: (r) => records.push(r) })) {
          // Only the trace is needed.
        }
      } finally {
        await runtime.close();
      }
      const inspector = await startInspector({ records });
      const { page, errors } = await open(inspector.url);
      try {
        await page.waitForSelector('#timeline .bar', WAIT);
        const stages = ['t7', 't6', 't5', 't4', 't3', 't2', 't1', 't0', 'cache'];
        for (const state of ['queued', ...stages, 'done', 'failed']) expect(await page.locator(`#state-${state}`).count(), state).toBe(1);
        // Every node is drawn at a readable width, wrapped over lines rather than squeezed.
        const widths = await page.locator('#chart .state-box').evaluateAll((boxes) => boxes.map((b) => Number((b as unknown as { getAttribute(n: string): string }).getAttribute('width'))));
        expect(Math.min(...widths)).toBeGreaterThanOrEqual(90);
        const forwards = records.filter((r) => r.kind === 'lane' && r.phase === 'end' && (r.task === 'tick' || r.task === 'share')).length;
        expect(await page.locator('#timeline .bar').count()).toBe(forwards);
        expect(await page.locator('#diagonal .cell').count()).toBe(4 * stages.length);
        expect(errors).toEqual([]);
      } finally {
        await page.close();
        await inspector.close();
      }
    });
  });
});
