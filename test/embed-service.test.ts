/**
 * End to end: the embed service (examples/embed-service) in headless Chromium. The page must
 * show live frames, and a prompt switch made through its form must take effect: every block
 * from the reported `fromBlock` on is generated under the new prompt, and the pixels the
 * browser shows turn from the red ball to the blue square. Each page has its own session: two
 * pages opened under different prompts show different sprites at once, and a third page beyond
 * the cap (`maxViewers: 2`) is refused with a 503 and `Retry-After`.
 *
 * Needs a Chromium binary: Debian's `/usr/bin/chromium` (`.ci/run` installs it) or
 * `CHROMIUM_PATH`. No sleeps: every wait is for a condition, with a timeout.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceOptionError } from '../examples/embed-service/errors.js';
import { parseCommandLine, resolveOptions } from '../examples/embed-service/options.js';
import { startService, type Service, type ServiceStatus } from '../examples/embed-service/server.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const RED = 'red ball moving left';
const BLUE = 'blue square moving up';
const WAIT = { timeout: 20_000 };

// Page-side functions run in Chromium; the test compiles without the DOM lib, so they reach
// the page's globals through these minimal types. They are passed as functions, not source
// text: the page's CSP forbids eval, which Playwright needs for text predicates.
interface PageElement {
  readonly textContent: string | null;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
}
interface PageCanvas {
  width: number;
  height: number;
  getContext(kind: '2d', options: { willReadFrequently: boolean }): {
    drawImage(image: PageElement, x: number, y: number): void;
    getImageData(x: number, y: number, width: number, height: number): { readonly data: Uint8ClampedArray };
  };
}
interface PageGlobals {
  readonly document: { getElementById(id: string): PageElement; createElement(tag: 'canvas'): PageCanvas };
}

/** The number element `id` of the page shows (the frame counter, the block on screen, …). */
const shownNumber = (id: string): number => Number((globalThis as unknown as PageGlobals).document.getElementById(id).textContent);

/** Waits until element `id` shows a number of at least `min` (the predicate must be self-contained). */
async function waitForNumber(page: Page, id: string, min: number): Promise<void> {
  await page.waitForFunction(
    ([id, min]) => {
      const text = (globalThis as unknown as PageGlobals).document.getElementById(id).textContent ?? '';
      return /^\d+$/.test(text) && Number(text) >= min;
    },
    [id, min] as const,
    WAIT,
  );
}

/** The colour of the sprite the <img> shows now, read back from its pixels, and a hash of them. */
const shownColour = (): { colour: string; hash: number } => {
  const doc = (globalThis as unknown as PageGlobals).document;
  const img = doc.getElementById('video');
  if (img.naturalWidth === 0) return { colour: 'none', hash: 0 };
  const canvas = doc.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let fg = 0;
  let red = 0;
  let blue = 0;
  let hash = 0;
  for (let i = 0; i < d.length; i += 4) {
    const r = d[i] as number;
    const gr = d[i + 1] as number;
    const b = d[i + 2] as number;
    hash = (hash * 31 + r + gr * 7 + b * 13) >>> 0;
    if (Math.max(r, gr, b) <= 60) continue; // the black background
    fg++;
    if (r > 2 * gr && r > 2 * b) red++;
    else if (b > 1.5 * r && b > 1.5 * gr) blue++;
  }
  return { colour: fg < 4 ? 'blank' : red * 2 > fg ? 'red' : blue * 2 > fg ? 'blue' : 'other', hash };
};

async function status(service: Service): Promise<ServiceStatus> {
  return (await fetch(new URL('status', service.url))).json() as Promise<ServiceStatus>;
}

/** Opens a session as a page does (`POST /sessions`); returns the response. */
function openSession(service: Service, body: unknown = {}): Promise<Response> {
  return fetch(new URL('sessions', service.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

/** Collects the page errors, console errors and requests outside the service of `page`. */
function watch(page: Page, service: Service): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('request', (request) => {
    if (!request.url().startsWith(service.url)) problems.push(`external request: ${request.url()}`);
  });
  return problems;
}

/** The shown sprite's colour at `n` successive new frames (each sampled once the counter moved on). */
async function sampleColours(page: Page, n: number): Promise<{ colours: string[]; pixels: Set<number> }> {
  const colours: string[] = [];
  const pixels = new Set<number>();
  for (let i = 0; i < n; i++) {
    const seen = await page.evaluate(shownNumber, 'frames');
    await waitForNumber(page, 'frames', seen + 1);
    const { colour, hash } = await page.evaluate(shownColour);
    colours.push(colour);
    pixels.add(hash);
  }
  return { colours, pixels };
}

const majority = (colours: readonly string[], colour: string) => colours.filter((c) => c === colour).length * 2 > colours.length;

describe('embed service in headless Chromium', () => {
  let service: Service;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`);
    // fps 30 keeps the test short; seed 1 is a video whose colours follow both prompts.
    [service, browser] = await Promise.all([
      startService({ fps: 30, seed: 1, prompt: RED, maxViewers: 2 }),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] }),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  it('the page shows live frames; a switch from its form applies from the block it reports; leaving stops the session', async () => {
    const page = await browser.newPage();
    const problems = watch(page, service);
    try {
      await page.goto(service.url);

      // Frames arrive: the counter climbs, the <img> decodes 32×32 PNGs and its pixels change.
      await waitForNumber(page, 'frames', 6);
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.getElementById('video').naturalWidth)).toBe(32);
      const before = await sampleColours(page, 6);
      expect(before.pixels.size, 'the shown image changes from frame to frame').toBeGreaterThan(1);
      expect(before.colours, 'a red ball before the switch').toSatisfy((c: string[]) => majority(c, 'red'));
      expect(await page.textContent('#prompt-current')).toBe(RED);

      // Switch through the page's own form.
      const shownAtSwitch = await page.evaluate(shownNumber, 'block');
      await page.fill('#prompt-input', BLUE);
      await page.click('#switch');
      await waitForNumber(page, 'from-block', 0);
      const fromBlock = await page.evaluate(shownNumber, 'from-block');
      // The switch cannot reach back: blocks already on screen were made under the old prompt.
      expect(fromBlock).toBeGreaterThan(shownAtSwitch);
      expect(await page.textContent('#error')).toBe('');

      // The browser's pixels follow: the sprite it shows turns blue. (Sampled over the first
      // blocks after the switch: seed 1 turns blue there at every switch point tried, 2 to 80.)
      await waitForNumber(page, 'block', fromBlock + 1);
      const later = await sampleColours(page, 6);
      expect(later.colours, 'a blue sprite after the switch').toSatisfy((c: string[]) => majority(c, 'blue'));

      // Blocks from `fromBlock` on reach the page, tagged with the prompt that conditioned them.
      await waitForNumber(page, 'block', fromBlock + 4);
      const blocks = await page.$$eval('#blocks li', (items) => items.map((li) => ({ block: Number(li.getAttribute('data-block')), prompt: li.getAttribute('data-prompt') })));
      expect(blocks.filter((b) => b.block >= fromBlock).length).toBeGreaterThanOrEqual(5);
      expect(blocks.filter((b) => b.block < fromBlock).length, 'some blocks before the switch are listed').toBeGreaterThan(0);
      for (const b of blocks) expect(b, `block ${b.block}`).toEqual({ block: b.block, prompt: b.block >= fromBlock ? BLUE : RED });
      expect(await page.textContent('#prompt-current')).toBe(BLUE);

      const live = await status(service);
      expect(live).toMatchObject({ maxViewers: 2, sessions: [{ state: 'running', viewers: 1, prompt: BLUE }] });
      expect(problems).toEqual([]);
    } finally {
      // Closing the tab drops the stream: the session stops, its memory set comes free and it leaves the list.
      await page.close();
    }
    await expect.poll(() => status(service), WAIT).toEqual({ maxViewers: 2, sessions: [] });
  });

  it('each page has its own session: two pages under different prompts show their own sprites; a third is refused with 503 and Retry-After', async () => {
    const red = await browser.newPage();
    const blue = await browser.newPage();
    const problems = [...watch(red, service), ...watch(blue, service)];
    try {
      await Promise.all([red.goto(`${service.url}?prompt=${encodeURIComponent(RED)}`), blue.goto(`${service.url}?prompt=${encodeURIComponent(BLUE)}`)]);
      await Promise.all([waitForNumber(red, 'frames', 4), waitForNumber(blue, 'frames', 4)]);
      // Both run at once: the frames each page shows follow its own prompt.
      const [a, b] = await Promise.all([sampleColours(red, 6), sampleColours(blue, 6)]);
      expect(a.colours, 'the red page shows a red ball').toSatisfy((c: string[]) => majority(c, 'red'));
      expect(b.colours, 'the blue page shows a blue sprite').toSatisfy((c: string[]) => majority(c, 'blue'));
      expect(await red.textContent('#prompt-current')).toBe(RED);
      expect(await blue.textContent('#prompt-current')).toBe(BLUE);
      const both = await status(service);
      expect(both.sessions.map((s) => [s.prompt, s.state, s.viewers]).sort()).toEqual([
        [BLUE, 'running', 1],
        [RED, 'running', 1],
      ]);

      // A third viewer: every memory set is taken, the runtime refuses it, the service says when to retry.
      const refused = await openSession(service);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(await refused.json()).toMatchObject({ error: { code: 'RUNTIME_BUSY', maxViewers: 2 } });
      // A third page says so.
      const third = await browser.newPage();
      try {
        await third.goto(service.url);
        await third.waitForSelector('#state:text-matches("^busy: .* reload in [1-9][0-9]* s$")', WAIT);
      } finally {
        await third.close();
      }
      expect((await status(service)).sessions).toHaveLength(2);
      expect(problems).toEqual([]);
    } finally {
      await Promise.all([red.close(), blue.close()]);
    }
    await expect.poll(() => status(service), WAIT).toEqual({ maxViewers: 2, sessions: [] });
  });

  it('a bad switch body gets a 400 naming the field; a switch to a session that ended (or never was) gets a 404', async () => {
    const opened = await openSession(service, { prompt: RED });
    expect(opened.status).toBe(201);
    const { id } = (await opened.json()) as { id: string };
    const post = async (body: string, type = 'application/json', target = id) => {
      const res = await fetch(new URL(`sessions/${target}/prompt`, service.url), { method: 'POST', headers: { 'Content-Type': type }, body });
      return { status: res.status, body: (await res.json()) as { error: { code: string; field?: string; message: string } } };
    };
    expect(await post('{"promt": "blue"}')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_FIELD', field: 'promt' } } });
    expect(await post('{"prompt": 7}')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_FIELD', field: 'prompt', message: 'field "prompt": expected a string, got 7' } } });
    expect(await post('{}')).toMatchObject({ status: 400, body: { error: { field: 'prompt' } } });
    expect(await post('{"prompt": "   "}')).toMatchObject({ status: 400, body: { error: { field: 'prompt' } } });
    expect(await post('{"prompt": ')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_JSON', field: '' } } });
    expect(await post('["blue"]')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_BODY', field: '' } } });
    expect(await post('prompt=blue', 'application/x-www-form-urlencoded')).toMatchObject({ status: 415 });
    expect(await post(JSON.stringify({ prompt: 'x'.repeat(5000) }))).toMatchObject({ status: 413 });
    expect(await post(`{"prompt": "${BLUE}"}`, 'application/json', 'nope')).toMatchObject({ status: 404, body: { error: { code: 'NO_SESSION' } } });
    // DELETE stops it (a page stops its session by closing its stream); then it is gone.
    const stopped = await fetch(new URL(`sessions/${id}`, service.url), { method: 'DELETE' });
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ state: 'ended', prompt: RED });
    expect(await post(`{"prompt": "${BLUE}"}`)).toMatchObject({ status: 404, body: { error: { code: 'NO_SESSION' } } });
    expect((await status(service)).sessions).toEqual([]);
  });

  it('answers only by its own name and its own origin: no DNS rebinding, no cross-site <img> starting a session', async () => {
    const port = Number(new URL(service.url).port);
    const ask = (method: string, path: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; code: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, code: (JSON.parse(text || '{}') as { error?: { code: string } }).error?.code ?? '' }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const json = { 'Content-Type': 'application/json' };
    expect(await ask('GET', '/status', { Host: `attacker.example:${port}` })).toEqual({ status: 403, code: 'FORBIDDEN_HOST' });
    expect(await ask('POST', '/sessions', { ...json, Host: `attacker.example:${port}` }, `{"prompt": "${BLUE}"}`)).toEqual({ status: 403, code: 'FORBIDDEN_HOST' });
    expect(await ask('POST', '/sessions', { ...json, Origin: 'http://attacker.example' }, `{"prompt": "${BLUE}"}`)).toEqual({ status: 403, code: 'FORBIDDEN_ORIGIN' });
    expect(await ask('POST', '/sessions/any/prompt', { ...json, Origin: 'http://attacker.example' }, `{"prompt": "${BLUE}"}`)).toEqual({ status: 403, code: 'FORBIDDEN_ORIGIN' });
    // What a browser sends for <img src="http://127.0.0.1:PORT/sessions/…/stream"> on another site's page.
    expect(await ask('GET', '/sessions/any/stream', { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Dest': 'image' })).toEqual({ status: 403, code: 'FORBIDDEN_ORIGIN' });
    expect(await status(service)).toEqual({ maxViewers: 2, sessions: [] });
    // Its own name and origin pass.
    expect((await ask('GET', '/status', { Host: `localhost:${port}`, Origin: `http://localhost:${port}`, 'Sec-Fetch-Site': 'same-origin' })).status).toBe(200);
  });

  it('close() ends the open streams, then the service is gone', async () => {
    const controller = new AbortController();
    const { id } = (await (await openSession(service)).json()) as { id: string };
    const stream = await fetch(new URL(`sessions/${id}/stream`, service.url), { signal: controller.signal });
    expect(stream.headers.get('content-type')).toBe('multipart/x-mixed-replace; boundary=frame');
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    await service.close();
    // The stream ends (rather than hanging) once the service closed.
    while (!(await reader.read()).done);
    await expect(fetch(new URL('status', service.url))).rejects.toThrow();
  });
});

describe('embed service options', () => {
  it('flags and EMBED_* variables are read; a bad option is named before any model loads', async () => {
    expect(parseCommandLine(['--port', '8080', '--max-buffered-blocks', '3'], { EMBED_FPS: '24', EMBED_PORT: '1', EMBED_MAX_VIEWERS: '3' })).toEqual({ port: 8080, maxBufferedBlocks: 3, fps: 24, maxViewers: 3 });
    expect(resolveOptions({}).maxViewers).toBeUndefined(); // the runtime's default maxSessions
    expect(() => resolveOptions({ maxViewers: 0 })).toThrow('option "maxViewers": expected an integer in [1, 1024], got 0');
    expect(() => parseCommandLine(['--prot', '1'], {})).toThrow(ServiceOptionError);
    expect(() => parseCommandLine(['--fps', 'fast'], {})).toThrow('option "fps": expected a number, got "fast"');
    expect(resolveOptions({ fps: 30 })).toMatchObject({ port: 0, fps: 30, seed: 1, blocks: 1_000_000 });
    expect(() => resolveOptions({ port: 70_000 })).toThrow('option "port": expected an integer in [0, 65535], got 70000');
    await expect(startService({ fps: -1 })).rejects.toThrow('option "fps": expected a number in [0, 120], got -1');
  });
});
