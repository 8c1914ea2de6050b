/**
 * What a new user meets first (issue 18): `block-cascade run --prompt` without a session file,
 * `run -` with the session on stdin, the summary line, progress lines without a terminal,
 * `--scale`, and MP4/WebM through ffmpeg (probed with ffprobe), including a missing ffmpeg.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, firstFrameWritten, ROOT, runCli } from './support/cli.js';
import { decodeGif } from './support/gif-decode.js';
import { findFfmpeg } from '../src/output/video.js';
import { scaleFrame } from '../src/output/scale.js';

/** models/sprites makes 3 frames of 32×32 per block. */
const FRAMES_PER_BLOCK = 3;
const SIZE = 32;
const PROGRESS_LINE = /^block-cascade: block \d+\/\d+, \d+\.\d blocks\/s$/m;
const hasFfmpeg = findFfmpeg() !== undefined && spawnSync('ffprobe', ['-version']).status === 0;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'block-cascade-first-run-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every `scale`×`scale` block of an RGB image is one colour: the upscaling was nearest-neighbour. */
function blocksUniform(rgb: Uint8Array, width: number, height: number, scale: number, channels = 3): boolean {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * channels;
      const corner = ((y - (y % scale)) * width + (x - (x % scale))) * channels;
      for (let c = 0; c < 3; c++) if (rgb[at + c] !== rgb[corner + c]) return false;
    }
  }
  return true;
}

/** Distinct colours of an image: a flat image would pass the uniformity check trivially. */
const colours = (rgb: Uint8Array, channels = 3) => {
  const seen = new Set<number>();
  for (let i = 0; i < rgb.length; i += channels) seen.add(((rgb[i] as number) << 16) | ((rgb[i + 1] as number) << 8) | (rgb[i + 2] as number));
  return seen.size;
};

/** ffprobe's view of a video's first stream, frames counted by decoding. */
function probe(path: string): { codec: string; width: number; height: number; frames: number } {
  const r = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'json', path], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const stream = (JSON.parse(r.stdout) as { streams: { codec_name: string; width: number; height: number; nb_read_frames: string }[] }).streams[0];
  if (stream === undefined) throw new Error(`${path}: no video stream`);
  return { codec: stream.codec_name, width: stream.width, height: stream.height, frames: Number(stream.nb_read_frames) };
}

describe('scaleFrame', () => {
  it('repeats each pixel in an n×n block and keeps index and block', () => {
    const frame = { index: 5, block: 1, width: 2, height: 1, rgb: new Uint8Array([1, 2, 3, 4, 5, 6]) };
    const big = scaleFrame(frame as never, 2);
    expect([big.width, big.height, big.index, big.block]).toEqual([4, 2, 5, 1]);
    expect([...big.rgb]).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    expect(() => scaleFrame(frame as never, 17)).toThrow(/expected an integer in 1\.\.16/);
  });
});

describe('block-cascade run without a session file', () => {
  it('--prompt makes the video from the flags; --scale 2 doubles GIF and PNG with nearest-neighbour pixels; progress lines and the summary on stderr', async () => {
    const gifPath = join(dir, 'prompt.gif');
    const framesDir = join(dir, 'prompt-frames');
    const { code, stderr } = await runCli(['run', '--prompt', 'red ball moving left', '--seed', '3', '--blocks', '2', '--scale', '2', '--out', gifPath, '--frames-dir', framesDir], 120_000);
    expect(code, stderr).toBe(0);
    // Not a terminal: plain progress lines, no redraw codes.
    expect(stderr).toMatch(PROGRESS_LINE);
    expect(stderr).not.toContain('\x1b');
    // Loading is reported file by file and lane by lane.
    expect(stderr).toMatch(/block-cascade: loaded denoiser \(\d\/4\)/);
    expect(stderr).toContain('block-cascade: lane 0 ready (1/1)');
    // The summary names what ran and what it gave.
    const last = stderr.trimEnd().split('\n').at(-1) ?? '';
    expect(last).toMatch(/^block-cascade: model models\/sprites, \d+ steps, P0, (causal|bidirectional) attention, exec \w+, 1 lane: 2 blocks, 6 frames \(32×32, written ×2 as 64×64\) in [\d.]+ s, [\d.]+ FPS, wall [\d.]+ s → /);

    const gif = decodeGif(new Uint8Array(await readFile(gifPath)));
    expect(gif.frames).toHaveLength(2 * FRAMES_PER_BLOCK);
    expect([gif.width, gif.height]).toEqual([2 * SIZE, 2 * SIZE]);
    const frame = gif.frames[2];
    if (frame === undefined) throw new Error('no frame 2');
    expect(colours(frame.rgb, frame.rgb.length / (frame.width * frame.height))).toBeGreaterThan(1);
    expect(blocksUniform(frame.rgb, frame.width, frame.height, 2, frame.rgb.length / (frame.width * frame.height))).toBe(true);

    const pngs = (await readdir(framesDir)).filter((f) => f.endsWith('.png')).sort();
    expect(pngs).toHaveLength(2 * FRAMES_PER_BLOCK);
    const png = PNG.sync.read(await readFile(join(framesDir, pngs[2] as string)));
    expect([png.width, png.height]).toEqual([2 * SIZE, 2 * SIZE]);
    // pngjs decodes to RGBA.
    expect(colours(png.data, 4)).toBeGreaterThan(1);
    expect(blocksUniform(png.data, png.width, png.height, 2, 4)).toBe(true);
  }, 120_000);

  it('refuses neither or both of a session file and --prompt as a usage error, and names a bad --prompt by its flag', async () => {
    const neither = await runCli(['run', '--blocks', '2']);
    expect(neither.code).not.toBe(0);
    expect(neither.stderr).toContain('give a session file (run session.json), "-" to read one from stdin, or --prompt');
    const both = await runCli(['run', 'examples/sessions/sprite.json', '--prompt', 'red ball']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('not both');
    const empty = await runCli(['run', '--prompt', ' ', '--out', join(dir, 'empty.gif')]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('option --prompt: expected a non-empty string');
    expect(existsSync(join(dir, 'empty.gif'))).toBe(false);
  }, 60_000);

  it('run - reads the session from stdin (no prompt switches from it), and --quiet prints no progress', async () => {
    const gifPath = join(dir, 'stdin.gif');
    const session = JSON.stringify({ seed: 1, blocks: 3, prompt: 'blue square moving up' });
    const { code, stderr } = await runCli(['run', '-', '--out', gifPath, '--quiet'], 120_000, `${session}\n`, {}, true);
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('3 blocks, 9 frames');
    expect(stderr).not.toMatch(PROGRESS_LINE);
    expect(stderr).not.toContain('block-cascade: loaded');
    expect(stderr).not.toContain('switched to');
    expect(decodeGif(new Uint8Array(await readFile(gifPath))).frames).toHaveLength(3 * FRAMES_PER_BLOCK);
  }, 120_000);

  it('run - names <stdin> in a session error', async () => {
    const { code, stderr } = await runCli(['run', '-'], 60_000, '{ "seed": 0, "blocks": -2, "prompt": "red ball" }', {}, true);
    expect(code).toBe(1);
    expect(stderr).toContain('<stdin>: field "blocks": expected a positive integer, got -2');
  }, 60_000);
});

describe('block-cascade run --out video.mp4 / video.webm', () => {
  it('refuses MP4 and WebM before any work when ffmpeg is not on PATH, saying how to install it', async () => {
    const empty = join(dir, 'empty-path');
    await mkdir(empty, { recursive: true });
    for (const name of ['nothing.mp4', 'nothing.webm']) {
      const out = join(dir, name);
      const trace = join(dir, `${name}.jsonl`);
      const { code, stderr } = await runCli(['run', '--prompt', 'red ball moving left', '--blocks', '2', '--out', out, '--trace', trace], 60_000, undefined, { PATH: empty });
      expect(code).toBe(1);
      expect(stderr).toContain(`${out}: writing ${name.endsWith('.mp4') ? 'MP4' : 'WebM'} needs the ffmpeg program, which is not on PATH`);
      expect(stderr).toContain('apt-get install ffmpeg');
      // Refused before the trace opened and the model loaded.
      expect(existsSync(trace)).toBe(false);
      expect(existsSync(out)).toBe(false);
    }
  }, 60_000);

  it.skipIf(!hasFfmpeg)('writes H.264 MP4 and VP9 WebM that ffprobe reads with every frame, --scale applied, no temporary file left', async () => {
    for (const [name, codec, scale] of [['v.mp4', 'h264', 1], ['v.webm', 'vp9', 3]] as const) {
      const out = join(dir, name);
      const { code, stderr } = await runCli(['run', '--prompt', 'green triangle moving right', '--blocks', '2', '--scale', String(scale), '--out', out, '--quiet'], 120_000);
      expect(code, stderr).toBe(0);
      expect(probe(out)).toEqual({ codec, width: SIZE * scale, height: SIZE * scale, frames: 2 * FRAMES_PER_BLOCK });
    }
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 120_000);

  it.skipIf(!hasFfmpeg)('on SIGTERM writes the frames made so far as a whole, shorter MP4', async () => {
    const out = join(dir, 'stopped.mp4');
    const framesDir = join(dir, 'stopped-frames');
    await mkdir(framesDir, { recursive: true });
    const firstFrame = firstFrameWritten(framesDir);
    const child = spawn(process.execPath, [BIN, 'run', '--prompt', 'red ball moving left', '--blocks', '100000', '--no-stdin', '--quiet', '--out', out, '--frames-dir', framesDir], {
      cwd: ROOT,
      env: { ...process.env, BLOCK_CASCADE_FROM_SOURCE: '1', BLOCK_CASCADE_DEBUG: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // Never left running, whatever fails below.
    const reap = setTimeout(() => child.kill('SIGKILL'), 55_000);
    await Promise.race([firstFrame, exited.then((code) => Promise.reject(new Error(`exited ${code} before a frame: ${stderr}`)))]);
    child.kill('SIGTERM');
    const code = await exited;
    clearTimeout(reap);
    expect(code, stderr).toBe(143);
    const made = /stopped after (\d+) frames; wrote (.*stopped\.mp4)/.exec(stderr);
    expect(Number(made?.[1]), stderr).toBeGreaterThan(0);
    expect(probe(out)).toEqual({ codec: 'h264', width: SIZE, height: SIZE, frames: Number(made?.[1]) });
  }, 60_000);
});
