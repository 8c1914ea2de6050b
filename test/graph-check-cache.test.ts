/**
 * Passed graph checks remembered across processes: a second `block-cascade model` on an
 * unchanged package finds the pass; a graph changed after it is checked again and refused.
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR_ENV, graphCheckDir, passedBefore, rememberPass } from '../src/engine/model/graph-check-cache.js';
import { runCli } from './support/cli.js';
import { RANDOM_MODEL } from './support/models.js';

describe('graph checks remembered across processes', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bc-graph-cache-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('finds the pass of an unchanged package, checks a changed one again', async () => {
    const cache = join(root, 'cache');
    const pkg = join(root, 'pkg');
    await cp(RANDOM_MODEL, pkg, { recursive: true });
    const env = { [CACHE_DIR_ENV]: cache };
    expect((await runCli(['model', pkg], 60_000, undefined, env)).code).toBe(0);
    const passes = await readdir(cache);
    expect(passes).toHaveLength(1);
    expect((await runCli(['model', pkg], 60_000, undefined, env)).code).toBe(0);
    expect(await readdir(cache)).toEqual(passes);
    // The head replaced by the embedding graph: same manifest, a file changed since the pass.
    await cp(join(pkg, 'embed.onnx'), join(pkg, 'head.onnx'));
    const changed = await runCli(['model', pkg], 60_000, undefined, env);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain('head.onnx: input "hidden" is missing');
  });

  it('reads back only the key it remembered; remembers nothing when turned off', async () => {
    const env = { [CACHE_DIR_ENV]: join(root, 'unit') };
    expect(await passedBefore('key a', env)).toBe(false);
    await rememberPass('key a', env);
    expect(await passedBefore('key a', env)).toBe(true);
    expect(await passedBefore('key b', env)).toBe(false);
    const off = { [CACHE_DIR_ENV]: '' };
    await rememberPass('key a', off);
    expect(await passedBefore('key a', off)).toBe(false);
  });

  it('lives under $BLOCK_CASCADE_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache; empty turns it off', () => {
    expect(graphCheckDir({ [CACHE_DIR_ENV]: '/x' })).toBe('/x');
    expect(graphCheckDir({ [CACHE_DIR_ENV]: '' })).toBeNull();
    expect(graphCheckDir({ XDG_CACHE_HOME: '/c' })).toBe(join('/c', 'block-cascade', 'graph-checks'));
    expect(graphCheckDir({})).toMatch(/\.cache\/block-cascade\/graph-checks$/);
  });

  it('is a folder of its own in every test run', () => {
    expect(process.env[CACHE_DIR_ENV]).toMatch(/bc-graph-checks-/);
  });
});
