/**
 * `block-cascade inspect` as a user runs it: a bad trace is one error line naming the file and
 * line (exit 1); `--no-serve --chrome-trace` writes the export and exits; serving prints the
 * URL, answers on it, and stops cleanly on Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from './support/cli.js';

const FIXTURE = 'test/fixtures/p4-lanes.jsonl';
const dir = mkdtempSync(join(tmpdir(), 'inspect-cli-'));

describe('block-cascade inspect', () => {
  it('refuses a bad trace with one line naming the file and line', async () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${readFileSync(FIXTURE, 'utf8').split('\n')[0]}\n{"kind":"state","t":1,"actor":"block.0"}\n`);
    const r = await runCli(['inspect', bad, '--no-serve']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`block-cascade: ${bad}:2: state record without field "state"\n`);
  });

  it('reads a trace whose last line a crash cut off, with a warning naming the line', async () => {
    const text = readFileSync(FIXTURE, 'utf8');
    const cut = join(dir, 'cut.jsonl');
    writeFileSync(cut, text.slice(0, text.trimEnd().lastIndexOf('\n') + 20));
    const lines = text.trimEnd().split('\n').length;
    const r = await runCli(['inspect', cut, '--no-serve']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`block-cascade: warning: ${cut}:${lines}: the last line was cut off`);
    expect(r.stdout).toContain('12 blocks');
  });

  it('writes a Chrome trace and exits with --no-serve', async () => {
    const out = join(dir, 'trace.json');
    const r = await runCli(['inspect', FIXTURE, '--no-serve', '--chrome-trace', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${FIXTURE}: P4 lanes, 2 lanes, 12 blocks, 32 forwards, 16 ticks`);
    const trace = JSON.parse(readFileSync(out, 'utf8')) as { traceEvents: { ph: string }[] };
    expect(trace.traceEvents.filter((e) => e.ph === 'X').length).toBeGreaterThan(32);
  });

  it('serves the page on 127.0.0.1 until Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'inspect', FIXTURE, '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, BLOCK_CASCADE_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          out += s;
          const m = /inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.on('close', (code) => reject(new Error(`exited ${code} before serving: ${out}`)));
      });
      const model = (await (await fetch(`${url}model`)).json()) as { forwards: number };
      expect(model.forwards).toBe(32);
      expect((await fetch(url)).headers.get('content-type')).toMatch(/^text\/html/);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});

describe('block-cascade run --inspect and --chrome-trace', () => {
  it('serves the live trace while generating, keeps serving after, exits 0 on Ctrl-C; writes the Chrome trace', async () => {
    const chrome = join(dir, 'run.json');
    const child = spawn(process.execPath, [BIN, 'run', 'examples/sessions/switch.json', '--lanes', '2', '--inspect', '--no-stdin', '--chrome-trace', chrome, '--out', join(dir, 'run.gif')], {
      cwd: ROOT,
      env: { ...process.env, BLOCK_CASCADE_FROM_SOURCE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      let err = '';
      const waiters: (() => void)[] = [];
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        err += s;
        for (const check of [...waiters]) check();
      });
      const serving = (pattern: RegExp) =>
        new Promise<string>((resolve, reject) => {
          const check = () => {
            const m = pattern.exec(err);
            if (m) resolve(m[1] as string);
          };
          waiters.push(check);
          check();
          child.on('close', (code) => reject(new Error(`exited ${code}: ${err}`)));
        });
      const url = await serving(/inspector (http:\/\/127\.0\.0\.1:\d+\/) \(live\)/);
      // After the video the page goes on serving every record of the run.
      expect(await serving(/inspector still serving (http:\/\/127\.0\.0\.1:\d+\/)/)).toBe(url);
      const records = (await (await fetch(`${url}trace`)).json()) as { kind: string; outcome?: string }[];
      expect(records[0]?.kind).toBe('meta');
      expect(records.at(-1)).toMatchObject({ kind: 'end', outcome: 'finished' });
      const model = (await (await fetch(`${url}model`)).json()) as { forwards: number; blocks: unknown[] };
      expect(model.blocks).toHaveLength(10);
      expect(model.forwards).toBeGreaterThan(10);
      const trace = JSON.parse(readFileSync(chrome, 'utf8')) as { traceEvents: { ph: string; name: string }[] };
      expect(trace.traceEvents.filter((e) => e.ph === 'X').length).toBeGreaterThan(model.forwards);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});
