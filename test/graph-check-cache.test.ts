/**
 * Passed graph checks and decoded manifests remembered across processes: a second
 * `block-cascade model` on an unchanged package finds the pass; a graph changed after it is
 * checked again and refused; a manifest is decoded once per content.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_DIR_ENV, graphCheckDir, passedBefore, recall, remember, rememberPass } from '../src/engine/model/graph-check-cache.js';
import { manifestKey } from '../src/engine/model/loader.js';
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
    // The graphs' pass and the decoded manifest.
    expect(passes).toHaveLength(2);
    expect((await runCli(['model', pkg], 60_000, undefined, env)).code).toBe(0);
    expect(await readdir(cache)).toEqual(passes);
    // The head replaced by the embedding graph: same manifest, a file changed since the pass.
    await cp(join(pkg, 'embed.onnx'), join(pkg, 'head.onnx'));
    const changed = await runCli(['model', pkg], 60_000, undefined, env);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain('head.onnx: input "hidden" is missing');
  });

  it('a second process takes the decoded manifest from the cache; a damaged entry is decoded again; an invalid manifest is never remembered', async () => {
    const cache = join(root, 'manifests');
    const pkg = join(root, 'pkg-manifest');
    await cp(RANDOM_MODEL, pkg, { recursive: true });
    const env = { [CACHE_DIR_ENV]: cache };
    const text = await readFile(join(pkg, 'model.json'), 'utf8');
    const key = await manifestKey(text);
    expect((await runCli(['model', pkg], 60_000, undefined, env)).code).toBe(0);
    const remembered = JSON.parse((await recall(key, env)) ?? 'null') as { name: string };
    expect(remembered.name).toBe(JSON.parse(text).name);
    // What the cache says is what a later process uses, without decoding the file again.
    await remember(key, JSON.stringify({ ...remembered, name: 'taken-from-the-cache' }), env);
    expect((await runCli(['model', pkg], 60_000, undefined, env)).stdout).toMatch(/^taken-from-the-cache /);
    await remember(key, '{ damaged', env);
    expect((await runCli(['model', pkg], 60_000, undefined, env)).stdout).toMatch(new RegExp(`^${remembered.name} `));
    expect(JSON.parse((await recall(key, env)) ?? 'null')).toEqual(remembered);
    const bad = text.replace('"layers": 4', '"layers": -4');
    expect(bad).not.toBe(text);
    await writeFile(join(pkg, 'model.json'), bad);
    const refused = await runCli(['model', pkg], 60_000, undefined, env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('field "layers": expected a positive integer');
    expect(await recall(await manifestKey(bad), env)).toBeNull();
  });

  it('reads back only the key it remembered, and its value; remembers nothing when turned off', async () => {
    const values = { [CACHE_DIR_ENV]: join(root, 'values') };
    await remember('key v', '{"a":1}', values);
    expect(await recall('key v', values)).toBe('{"a":1}');
    expect(await passedBefore('key v', values)).toBe(true);
    expect(await recall('key w', values)).toBeNull();
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
