/** Runs `bin/block-cascade.js` in a child Node process, as a user would. */
import { spawn, type ChildProcessWithoutNullStreams, type ChildProcessByStdio } from 'node:child_process';
import { watch } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/block-cascade.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI from the sources (a stale dist/ must not decide the result) and collects its
 * output; `env` adds to (or, with undefined values, removes from) the environment; `endInput` closes stdin after `input`
 * (a piped file) instead of leaving it open (a terminal).
 */
export function runCli(args: readonly string[], timeoutMs = 60_000, input?: string, env: Readonly<Record<string, string | undefined>> = {}, endInput = false): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, BLOCK_CASCADE_FROM_SOURCE: '1', BLOCK_CASCADE_DEBUG: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  const result = collectOutput(child);
  // Without input stdin is closed at once; with input the lines go in at once and stdin stays
  // open, like a terminal nobody types into any more.
  if (input === undefined) child.stdin.end();
  else if (endInput) child.stdin.end(input);
  else child.stdin.write(input);
  return result;
}

/** Collects a child's stdout and stderr until it closes. */
export function collectOutput(child: ChildProcessWithoutNullStreams | ChildProcessByStdio<null, Readable, Readable>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Resolves when the first PNG frame is renamed into place in `framesDir` (the output check's
 * probe file comes and goes before): by then a frame has reached every other output too, which
 * `run` feeds first.
 */
export function firstFrameWritten(framesDir: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(framesDir, (_event, name) => {
      if (!/^frame-\d+\.png$/.test(String(name))) return;
      watcher.close();
      resolve();
    });
  });
}
