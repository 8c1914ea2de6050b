/**
 * A cluster client as its own process, for running on another "host" (inside a network
 * namespace): connects to the server, runs one session to its end and writes what it got to a
 * JSON file. Run from the repository root:
 *
 *   node --conditions=block-cascade-source --import tsx test/support/cluster-client-run.ts \
 *     <nats url> <request json> <session options json> <out file>
 *
 * The out file: `{ worker, failovers, frames: [{ index, block, rgb (base64) }] }`. On stdout, once:
 * `first frame from <worker id>`.
 */
import { writeFileSync } from 'node:fs';
import { connect } from '../../src/cluster/client.js';

const [url, requestJson, optionsJson, out] = process.argv.slice(2);
if (!url || !requestJson || !optionsJson || !out) throw new Error('usage: cluster-client-run.ts <nats url> <request json> <session options json> <out file>');
const cluster = await connect({ servers: url });
try {
  const session = cluster.session(JSON.parse(requestJson), JSON.parse(optionsJson));
  const frames: { index: number; block: number; rgb: string }[] = [];
  for await (const frame of session.frames) {
    // For a test that acts once the session runs somewhere: where its first frame came from.
    if (frames.length === 0) process.stdout.write(`first frame from ${session.worker}\n`);
    frames.push({ index: frame.index, block: frame.block, rgb: Buffer.from(frame.rgb).toString('base64') });
  }
  writeFileSync(out, JSON.stringify({ worker: session.worker, failovers: session.failovers, frames }));
} finally {
  await cluster.close();
}
