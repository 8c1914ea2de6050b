/**
 * End-to-end `block-cascade run` with the bundled default model (the trained `models/sprites`).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, ROOT } from './support/cli.js';
import { decodeGif } from './support/gif-decode.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'block-cascade-cli-run-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('block-cascade run', () => {
  it('writes a GIF and PNG frames for 2 blocks of the sprite session', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'models/sprites/model.json'), 'utf8')) as {
      framesPerBlock: number;
      video: { width: number; height: number };
    };
    const gifPath = join(dir, 'a.gif');
    const framesDir = join(dir, 'f');
    const { code, stderr } = await runCli(
      ['run', 'examples/sessions/sprite.json', '--blocks', '2', '--out', gifPath, '--frames-dir', framesDir],
      120_000,
    );
    expect(stderr).toContain('2 blocks');
    expect(code).toBe(0);

    const expected = 2 * manifest.framesPerBlock;
    const gif = decodeGif(new Uint8Array(await readFile(gifPath)));
    expect([gif.width, gif.height]).toEqual([manifest.video.width, manifest.video.height]);
    expect(gif.frames).toHaveLength(expected);
    const pngs = (await readdir(framesDir)).filter((f) => /^frame-\d{5}\.png$/.test(f)).sort();
    expect(pngs).toHaveLength(expected);
    expect(pngs[0]).toBe('frame-00000.png');
  }, 180_000);

  it('follows a session timeline: switches, and a stop that ends the video at its block', async () => {
    const framesDir = join(dir, 'switch');
    const tracePath = join(dir, 'switch.jsonl');
    const { code, stderr } = await runCli(['run', 'examples/sessions/switch.json', '--frames-dir', framesDir, '--trace', tracePath], 120_000);
    expect(stderr).toContain('10 blocks');
    expect(code).toBe(0);
    expect((await readdir(framesDir)).filter((f) => f.endsWith('.png'))).toHaveLength(30);
    // --trace: JSON Lines from the meta record to the end record, with the timeline's switches.
    const records = (await readFile(tracePath, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as { kind: string; [k: string]: unknown });
    expect(records[0]).toMatchObject({ kind: 'meta', parallelism: 4, attention: 'causal', blocks: 10 });
    expect(records.at(-1)).toMatchObject({ kind: 'end', blocks: 10, outcome: 'finished' });
    expect(records.filter((r) => r.kind === 'switch').map((r) => r.fromBlock)).toEqual([4, 8]);
    expect(records.filter((r) => r.kind === 'frame')).toHaveLength(10);
  }, 180_000);

  it('takes prompt switches typed on stdin, one per line, and exits although stdin stays open', async () => {
    const framesDir = join(dir, 'stdin');
    const { code, stderr } = await runCli(['run', 'examples/sessions/sprite.json', '--blocks', '4', '--frames-dir', framesDir], 120_000, 'blue square moving up\n');
    expect(stderr).toMatch(/switched to "blue square moving up" from block \d+/);
    expect(code).toBe(0);
  }, 180_000);
});


describe('examples/scripted.ts', () => {
  it('replays a session script headless into a GIF', async () => {
    const gifPath = join(dir, 'scripted.gif');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'examples/scripted.ts', 'examples/sessions/switch.json', gifPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
      child.on('error', reject);
      child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('end: 10 blocks');
    expect(decodeGif(new Uint8Array(await readFile(gifPath))).frames).toHaveLength(30);
  }, 180_000);
});
