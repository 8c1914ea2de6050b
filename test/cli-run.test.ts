/**
 * End-to-end `block-cascade run` with the bundled default model (the trained `models/sprites`).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, collectOutput, firstFrameWritten, runCli, ROOT } from './support/cli.js';
import { decodeGif } from './support/gif-decode.js';
import { OutputError } from '../src/output/errors.js';
import { GifWriter } from '../src/output/gif.js';

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
    // Written under a temporary name and renamed: none is left behind.
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await readdir(framesDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 180_000);

  it('refuses an unwritable --out or --frames-dir before generating, naming the path', async () => {
    const folder = join(dir, 'a-folder.gif');
    await mkdir(folder, { recursive: true });
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    for (const [flags, named] of [
      [['--out', folder], `${folder}: is a folder`],
      [['--out', join(dir, 'ok.gif'), '--frames-dir', join(file, 'frames')], join(file, 'frames')],
    ] as const) {
      const trace = join(dir, `refused-${flags.length}-${named.length}.jsonl`);
      const { code, stderr } = await runCli(['run', 'examples/sessions/sprite.json', '--blocks', '2', '--no-stdin', '--trace', trace, ...flags]);
      expect(code).not.toBe(0);
      expect(stderr).toContain(named);
      // Refused before the trace was opened and the model loaded: nothing was generated.
      expect(existsSync(trace)).toBe(false);
    }
  }, 120_000);

  it('echoes stdin prompts escaped, refuses overlong ones; stops on SIGTERM as on Ctrl-C: the runtime closes, the trace is closed, exit 143', async () => {
    const trace = join(dir, 'sigterm.jsonl');
    const framesDir = join(dir, 'sigterm-frames');
    await mkdir(framesDir, { recursive: true });
    const firstFrame = firstFrameWritten(framesDir);
    const child = spawn(process.execPath, [BIN, 'run', 'examples/sessions/sprite.json', '--blocks', '100000', '--trace', trace, '--out', join(dir, 'sigterm.gif'), '--frames-dir', framesDir], {
      cwd: ROOT,
      env: { ...process.env, BLOCK_CASCADE_FROM_SOURCE: '1', BLOCK_CASCADE_DEBUG: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    let stderr = '';
    // Never left running, whatever fails below.
    const reap = setTimeout(() => child.kill('SIGKILL'), 55_000);
    // Switches typed on stdin are answered once the generation runs: then SIGTERM. Control
    // bytes are echoed escaped, an overlong line is refused.
    await new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (stderr.includes('switched to "blue ball moving up"') && stderr.includes('switched to "\\x1b\\x07red\\x07 ball"')) resolve();
      });
      void exited.then((code) => reject(new Error(`exited ${code} before generating: ${stderr}`)));
      // Control bytes with no letters among them: an ANSI colour's "m" would be a word the model does not know.
      child.stdin.write(`\x1b\x07red\x07 ball\n${'x'.repeat(5000)}\npurple squirrel\nblue ball moving up\n`);
    });
    expect(stderr).not.toContain('\x1b');
    expect(stderr).toContain('block-cascade: a prompt of 5000 characters ignored (at most 4096)');
    // Switched in order, so the refusal is written before the switch after it.
    expect(stderr).toContain('block-cascade: switch to "purple squirrel" not applied: option "prompt": the model does not know the word "squirrel"; it knows: ');
    await firstFrame;
    child.kill('SIGTERM');
    const code = await exited;
    clearTimeout(reap);
    expect(code).toBe(143);
    expect(stderr).toContain('terminated, stopping');
    // The frames made before SIGTERM are written as a whole, shorter GIF.
    const made = /stopped after (\d+) frames; wrote (.*sigterm\.gif)/.exec(stderr);
    expect(Number(made?.[1]), stderr).toBeGreaterThan(0);
    expect(decodeGif(await readFile(join(dir, 'sigterm.gif'))).frames.length).toBe(Number(made?.[1]));
    // The trace is closed whole (every line a record) and ends with its `end` record: a decode
    // still on a lane at the stop used to add its frame record after it.
    const records = (await readFile(trace, 'utf8')).trimEnd().split('\n').map((line) => JSON.parse(line) as { kind: string; outcome?: string });
    expect(records[0]?.kind).toBe('meta');
    expect(records.at(-1)).toMatchObject({ kind: 'end', outcome: 'aborted' });
  }, 60_000);

  it('writes the GIF atomically and names it when the write fails', async () => {
    const frame = { index: 0, block: 0, width: 2, height: 2, rgb: new Uint8Array(12) };
    const path = join(dir, 'atomic.gif');
    const gif = new GifWriter(path, { fps: 8 });
    await gif.add(frame as never);
    // A folder appears where the GIF goes after the check: the rename fails, named, no temporary left.
    await mkdir(join(path, 'inside'), { recursive: true });
    const err = await gif.finish().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OutputError);
    expect((err as OutputError).code).toBe('E_OUTPUT_WRITE');
    expect((err as Error).message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write`));
    expect((await readdir(dir)).filter((f) => f.startsWith('.atomic.gif.'))).toEqual([]);
  });

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
    const child = spawn(process.execPath, ['--conditions=block-cascade-source', '--import', 'tsx', 'examples/scripted.ts', 'examples/sessions/switch.json', gifPath], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const { code, stdout, stderr } = await collectOutput(child);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('end: 10 blocks');
    expect(decodeGif(new Uint8Array(await readFile(gifPath))).frames).toHaveLength(30);
  }, 180_000);
});
