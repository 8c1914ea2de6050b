/**
 * Runs one ONNX graph with onnxruntime-node on inputs written by a Python script, and writes its
 * outputs back: how recover.py checks the PyTorch modules it rebuilt from the shipped ONNX
 * files against those files (Debian's Python has no onnxruntime).
 *
 *   npx tsx tools/train/onnx-run.ts MODEL.onnx IN.json OUT.json
 *
 * IN.json: `{ name: { type: 'float32' | 'int64', dims: number[], data: number[] } }`;
 * OUT.json: `{ name: { dims: number[], data: number[] } }` for every output of the graph.
 * Single-threaded, so that the numbers do not depend on the thread count.
 *
 * @example
 * ```sh
 * npx tsx tools/train/onnx-run.ts models/sprites/denoiser.onnx in.json out.json
 * ```
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

interface Feed {
  readonly type: 'float32' | 'int64';
  readonly dims: number[];
  readonly data: number[];
}

async function main(): Promise<void> {
  const [model, input, output] = process.argv.slice(2);
  if (!model || !input || !output) throw new Error('usage: onnx-run.ts MODEL.onnx IN.json OUT.json');
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, feed] of Object.entries(JSON.parse(readFileSync(input, 'utf8')) as Record<string, Feed>)) {
    feeds[name] = feed.type === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from(feed.data, (v) => BigInt(v)), feed.dims)
      : new ort.Tensor('float32', Float32Array.from(feed.data), feed.dims);
  }
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const outputs = await session.run(feeds);
  const result: Record<string, { dims: readonly number[]; data: number[] }> = {};
  for (const name of session.outputNames) {
    const tensor = outputs[name] as ort.Tensor;
    result[name] = { dims: tensor.dims, data: Array.from(tensor.data as Float32Array) };
  }
  writeFileSync(output, JSON.stringify(result));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
