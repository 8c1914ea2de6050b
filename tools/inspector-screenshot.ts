/**
 * Makes the inspector's documentation picture: records a fresh trace of a P4 cascade on 2 lanes
 * (`lanes` execution, bidirectional attention, 24 blocks, a prompt switch at block 12) into
 * docs/inspector-trace.jsonl, serves it, and has headless Chromium (Debian's, or
 * CHROMIUM_PATH) write docs/inspector.png with a block selected and the time scrubbed to it.
 *
 *   npx tsx tools/inspector-screenshot.ts            # record, then shoot
 *   npx tsx tools/inspector-screenshot.ts --reuse    # shoot the trace already in docs/
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startInspector } from '../src/inspector/server.js';
import { readTraceFile } from '../src/inspector/trace-file.js';
import { createRuntime } from '../src/index.js';
import type { TraceRecord } from '../src/core/trace-records.js';

const docs = (name: string): string => fileURLToPath(new URL(`../docs/${name}`, import.meta.url));
const TRACE = docs('inspector-trace.jsonl');
const PICTURE = docs('inspector.png');
/** The block shown selected: the first block under the new prompt plus one, well inside the cascade. */
const SELECTED = 13;

/** Runs the generation and writes its trace, one record per line. */
async function record(): Promise<void> {
  const runtime = await createRuntime({ lanes: 2 });
  try {
    const records: TraceRecord[] = [];
    const request = { seed: 1, blocks: 24, prompt: 'red ball moving left', switches: [{ atBlock: 12, prompt: 'blue ball moving up' }] };
    for await (const _frame of runtime.generate(request, { cascade: { parallelism: 4, attention: 'bidirectional', exec: 'lanes' }, trace: (r) => records.push(r) })) {
      // Frames are not needed: only the trace is.
    }
    writeFileSync(TRACE, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
    process.stdout.write(`recorded ${records.length} records into ${TRACE}\n`);
  } finally {
    await runtime.close();
  }
}

async function shoot(): Promise<void> {
  const records = await readTraceFile(TRACE);
  const inspector = await startInspector({ records });
  const browser = await chromium.launch({ executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(inspector.url);
    await page.locator(`#timeline .bar .seg[data-block="${SELECTED}"]`).first().click();
    // Scrub to the middle of the selected block's t1, so the chart shows the cascade in flight.
    const t1 = records.filter((r) => r.kind === 'state' && r.actor === `block.${SELECTED}`).map((r) => r.t);
    const at = ((t1[3] ?? 0) + (t1[4] ?? 0)) / 2;
    await page.locator('#scrubber').fill(String(at));
    await page.screenshot({ path: PICTURE });
    process.stdout.write(`wrote ${PICTURE} (block ${SELECTED} selected, t = ${at.toFixed(1)} ms)\n`);
  } finally {
    await browser.close();
    await inspector.close();
  }
}

const { values } = parseArgs({ options: { reuse: { type: 'boolean', default: false } } });
if (!values.reuse) await record();
await shoot();
