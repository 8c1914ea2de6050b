/**
 * Replays a session script headless and writes a GIF, logging the session's events.
 *
 *   npx tsx --conditions=block-cascade-source examples/scripted.ts examples/sessions/switch.json switch.gif
 *
 * Uses only the package's public API: `import … from 'block-cascade'` is the compiled package
 * (dist/) once installed, and the TypeScript sources (src/index.ts) in a clone run with the
 * `block-cascade-source` condition (package.json `exports`), so no build is needed.
 */
import { createRuntime, GifWriter, loadSessionFile, planSession, type SessionEvent } from 'block-cascade';

const [script, out = 'scripted.gif'] = process.argv.slice(2);
if (script === undefined) {
  console.error('usage: npx tsx --conditions=block-cascade-source examples/scripted.ts <session.json> [out.gif]');
  process.exit(2);
}

// A bad script fails here, before any lane starts, naming the file and the field.
const plan = await planSession(await loadSessionFile(script), script);
const runtime = await createRuntime(plan.runtime);
try {
  const session = runtime.session(plan.request);
  session.on((e: SessionEvent) => {
    if (e.type === 'block') console.log(`block ${e.block} at ${e.elapsedMs.toFixed(0)} ms`);
    else if (e.type === 'end') console.log(`end: ${e.blocks} blocks${e.stopped ? ' (stopped)' : ''}`);
  });
  const gif = new GifWriter(out, { fps: plan.fps });
  let frames = 0;
  for await (const frame of session.frames) {
    await gif.add(frame);
    frames++;
  }
  await gif.finish();
  console.log(`wrote ${out}: ${frames} frames`);
} finally {
  await runtime.close();
}
