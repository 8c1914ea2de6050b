/**
 * Records the reference frames of `test/support/reference-configs.ts` on `models/random`:
 * one gzip of raw RGB per configuration and an index with their SHA-256 and the CPU that made
 * them. Run it only when behaviour is meant to change, and say why in the commit.
 *
 *   npx tsx tools/record-reference-frames.ts
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createRuntime, type Frame } from '../src/index.js';
import { REFERENCE_CONFIGS, REFERENCE_DIR } from '../test/support/reference-configs.js';
import { RANDOM_MODEL } from '../test/support/models.js';

const dir = fileURLToPath(REFERENCE_DIR);
mkdirSync(dir, { recursive: true });
const runtimes = new Map<number, Awaited<ReturnType<typeof createRuntime>>>();
const entries = [];
for (const config of REFERENCE_CONFIGS) {
  let runtime = runtimes.get(config.lanes);
  if (!runtime) runtimes.set(config.lanes, (runtime = await createRuntime({ lanes: config.lanes, model: RANDOM_MODEL })));
  const frames: Frame[] = [];
  for await (const frame of runtime.generate(config.request, { cascade: config.cascade })) frames.push(frame);
  const rgb = Buffer.concat(frames.map((f) => f.rgb));
  writeFileSync(`${dir}${config.name}.rgb.gz`, gzipSync(rgb, { level: 9 }));
  entries.push({ name: config.name, frames: frames.length, bytes: rgb.length, sha256: createHash('sha256').update(rgb).digest('hex') });
  console.log(config.name, frames.length, 'frames');
}
await Promise.all([...runtimes.values()].map((r) => r.close()));
writeFileSync(`${dir}index.json`, `${JSON.stringify({ cpu: cpus()[0]?.model ?? 'unknown', model: 'models/random', configs: entries }, null, 2)}\n`);
