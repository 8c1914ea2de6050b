#!/usr/bin/env node
/**
 * Writes a model package with deterministic weights.
 *
 * ```
 * node dist/tools/model-builder/cli.ts [--out models/random] [--if-missing]
 *   [--name S] [--seed N] [--layers N] [--width N] [--heads N] [--patch-size N]
 *   [--latent-channels N] [--latent-height N] [--latent-width N] [--frames-per-block N]
 *   [--video-height N] [--video-width N] [--max-tokens N] [--context-dim N]
 *   [--sink-frames N] [--window-frames N]
 * ```
 * @internal
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MANIFEST_FILE } from '../../src/engine/model/contract.js';
import { buildModelPackage } from './build.js';
import type { BuilderConfig } from './config.js';

const NUMERIC = [
  'seed', 'layers', 'width', 'heads', 'patchSize', 'latentChannels', 'latentHeight', 'latentWidth',
  'framesPerBlock', 'videoHeight', 'videoWidth', 'maxTokens', 'contextDim', 'sinkFrames', 'windowFrames',
] as const satisfies readonly (keyof BuilderConfig)[];

const USAGE = `usage: model-builder [--out DIR] [--if-missing] [--name NAME] ${NUMERIC.map((k) => `[--${kebab(k)} N]`).join(' ')}`;

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export interface CliOptions {
  readonly out: string;
  readonly ifMissing: boolean;
  readonly config: Partial<BuilderConfig>;
}

/** Parses the command line (without `node` and the script). @throws {TypeError} on bad usage. */
export function parseArgs(argv: readonly string[]): CliOptions {
  let out = 'models/random';
  let ifMissing = false;
  const config: { -readonly [K in keyof BuilderConfig]?: BuilderConfig[K] } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new TypeError(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    if (arg === '--out') out = value();
    else if (arg === '--if-missing') ifMissing = true;
    else if (arg === '--name') config.name = value();
    else {
      const key = NUMERIC.find((k) => arg === `--${kebab(k)}` || arg === `--${k}`);
      if (key === undefined) throw new TypeError(`unknown option ${arg}\n${USAGE}`);
      const text = value();
      const n = Number(text);
      if (!Number.isSafeInteger(n)) throw new TypeError(`${arg} expects an integer, got ${text}`);
      config[key] = n;
    }
  }
  return { out, ifMissing, config };
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const options = parseArgs(argv);
  if (options.ifMissing && (await exists(join(options.out, MANIFEST_FILE)))) {
    console.log(`model package already present in ${options.out}`);
    return 0;
  }
  const manifest = await buildModelPackage(options.out, options.config);
  console.log(
    `wrote ${manifest.name} to ${options.out}: ${manifest.layers} layers, width ${manifest.width}, ` +
      `${manifest.tokensPerFrame} tokens per frame`,
  );
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = err instanceof TypeError || err instanceof RangeError ? 2 : 1;
    },
  );
}
