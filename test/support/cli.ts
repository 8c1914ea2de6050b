/** Runs `bin/block-cascade.js` in a child Node process, as a user would. */
import { spawn } from 'node:child_process';
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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, BLOCK_CASCADE_FROM_SOURCE: '1', BLOCK_CASCADE_DEBUG: '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    // Without input stdin is closed at once; with input the lines go in at once and stdin stays
    // open, like a terminal nobody types into any more.
    if (input === undefined) child.stdin.end();
    else if (endInput) child.stdin.end(input);
    else child.stdin.write(input);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
