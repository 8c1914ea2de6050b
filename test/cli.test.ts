import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';

describe('block-cascade CLI', () => {
  it('--help lists the commands', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: block-cascade');
    expect(stdout).toMatch(/run \[options\] \[session\.json\]/);
    expect(stdout).toMatch(/bench \[options\]/);
    expect(stdout).toContain('--version');
  });

  it('run --help and bench --help list their options', async () => {
    const run = await runCli(['run', '--help']);
    expect(run.code).toBe(0);
    for (const flag of ['--out', '--frames-dir', '--lanes', '--seed', '--blocks', '--fps', '--recache', '--prompt', '--model', '--scale', '--quiet']) expect(run.stdout).toContain(flag);
    // `run -` takes the session from stdin, so stdin carries no prompt switches then: --help says so.
    expect(run.stdout.replace(/\s+/g, ' ')).toContain('"-" reads it from stdin (prompt switches are then not read from stdin)');
    const bench = await runCli(['bench', '--help']);
    expect(bench.code).toBe(0);
    for (const flag of ['--json', '--blocks', '--repeats', '--warmup', '--lanes', '--soak', '--sample-every', '--switch-every']) expect(bench.stdout).toContain(flag);
  });

  it('--version prints the package version', async () => {
    const { code, stdout } = await runCli(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('a bad session file exits 1 with the file and field on one line, no stack', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'block-cascade-cli-'));
    try {
      const file = join(dir, 'bad.json');
      await writeFile(file, JSON.stringify({ seed: 7, blocks: -2, prompt: 'red ball' }));
      const { code, stderr } = await runCli(['run', file, '--out', join(dir, 'a.gif')]);
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(`block-cascade: ${file}: field "blocks": expected a positive integer, got -2`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a session file with words the model does not know exits 1 naming them and the vocabulary, before any work', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'block-cascade-cli-'));
    try {
      const file = join(dir, 'words.json');
      await writeFile(file, JSON.stringify({ seed: 7, blocks: 4, prompt: 'red squirrel moving left' }));
      const { code, stderr } = await runCli(['run', file, '--out', join(dir, 'a.gif')]);
      expect(code).toBe(1);
      expect(stderr.trim()).toMatch(new RegExp(`^block-cascade: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: field "prompt": the model does not know the word "squirrel"; it knows: red green blue`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('block-cascade model shows the vocabulary and the token limit', async () => {
    const { code, stdout } = await runCli(['model']);
    expect(code).toBe(0);
    expect(stdout).toContain('a prompt may have at most 8 words (the token limit)');
    expect(stdout).toMatch(/vocabulary {2}20 words, the only ones a prompt may use: red green blue yellow purple orange white ball/);
  });

  it('re-cache in a cascade is refused before any work, saying why', async () => {
    const { code, stderr } = await runCli(['run', 'examples/sessions/sprite.json', '--parallelism', '4', '--recache', 'on', '--out', join(tmpdir(), 'never.gif')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/option --recache: expected "off" at P4 \(a cascade switches prompts without re-cache/);
  });

  it('a bad flag value is a usage error', async () => {
    const { code, stderr } = await runCli(['run', 'examples/sessions/sprite.json', '--blocks', '0']);
    expect(code).toBe(1);
    expect(stderr).toContain("option '--blocks <n>' argument '0' is invalid");
  });
});
