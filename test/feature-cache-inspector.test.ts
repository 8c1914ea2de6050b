/**
 * The inspector draws reused steps distinctly: a cached generation's trace (P4, 2 lanes,
 * bwcache on the random model) in headless Chromium shows one pale, dotted segment per reused
 * block step in lanes × time and on the diagonal, the legend entry, and "(reused)" in a
 * block's task table. Needs Debian's Chromium (`/usr/bin/chromium`) or `CHROMIUM_PATH`.
 */
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../src/index.js';
import type { TraceRecord } from '../src/core/trace-records.js';
import { startInspector, type Inspector } from '../src/inspector/server.js';
import { RANDOM_MODEL } from './support/models.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const WAIT = { timeout: 15_000 };

describe('inspector on a feature-cached trace', () => {
  let browser: Browser;
  let inspector: Inspector;
  let reused = 0;
  beforeAll(async () => {
    const runtime = await createRuntime({ lanes: 2, model: RANDOM_MODEL });
    const records: TraceRecord[] = [];
    try {
      for await (const _ of runtime.generate({ seed: 2, blocks: 3, prompt: 'red ball moving left' }, { steps: 8, cascade: { parallelism: 4 }, featureCache: { policy: 'bwcache', threshold: 1.5 }, trace: (r) => records.push(r) })) void _;
      reused = runtime.stats().reusedForwards;
    } finally {
      await runtime.close();
    }
    inspector = await startInspector({ records });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await inspector?.close();
  });

  it('draws each reused block step pale and dotted, on the lanes and the diagonal, and lists it in the block details', async () => {
    expect(reused).toBeGreaterThan(0);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(inspector.url);
    await page.waitForSelector('#timeline .bar', WAIT);
    expect(await page.locator('#timeline .seg.reused').count()).toBe(reused);
    expect(await page.locator('#diagonal .cell.reused').count()).toBe(reused);
    expect(await page.locator('#legend').textContent()).toContain('reused features');
    expect(await page.locator('#meta').textContent()).toContain('bwcache δ = 1.5');
    await page.locator('#timeline .seg.reused').first().click();
    await page.waitForSelector('#block-details tr.reused', WAIT);
    expect(await page.locator('#block-details h3').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/reused features/)]));
    expect(errors).toEqual([]);
    await page.close();
  });
});
