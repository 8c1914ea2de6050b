/**
 * Vitest global setup: every test run remembers passed graph checks in a folder of its own
 * (`BLOCK_CASCADE_CACHE_DIR`, inherited by test workers and the CLI processes they start), so a
 * run never skips a check because an earlier run passed it; the folder goes at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'bc-graph-checks-'));
  process.env['BLOCK_CASCADE_CACHE_DIR'] = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
