/**
 * Where a cluster session's snapshots spend CPU: `npx tsx --conditions=block-cascade-source
 * tools/snapshot-cpu.ts [--model DIR] [--blocks 12] [--rounds 4] [--json FILE]`. One NATS server,
 * one one-lane worker process, one P0 session at a time through `connect()`; rounds alternate
 * snapshots every 4 blocks and snapshots off (after one warm-up pair). Per session it reads the
 * CPU time of every thread of the server and of the worker (`/proc/<pid>/task/<tid>/schedstat`)
 * and the client's own (`process.cpuUsage`), so the cost shows as CPU, which on a machine with
 * cores to spare never reaches the session's wall time.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { startNatsServer } from '../src/bench/nats-server.js';
import { spawnWorkerProcess } from '../src/bench/worker-process.js';
import { connect } from '../src/cluster/client.js';
import { median } from '../src/core/median.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    blocks: { type: 'string', default: '12' },
    rounds: { type: 'string', default: '4' },
    json: { type: 'string' },
  },
});
const blocks = Number(values.blocks);
const rounds = Number(values.rounds);

/** CPU nanoseconds of every thread of `pid` so far. */
function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return total;
}

const server = await startNatsServer();
const serverPid = Number(execFileSync('pgrep', ['-f', `^[^ ]*nats-server -a .* -p ${server.port} `]).toString().trim());
const worker = await spawnWorkerProcess({ nats: server.url, id: 'w1', lanes: 1, maxSessions: 2, model: values.model ?? 'models/sprites' });
const workerPid = worker.child.pid as number;

interface Sample {
  readonly snapshotEvery: number;
  readonly wallMs: number;
  readonly serverCpuMs: number;
  readonly workerCpuMs: number;
  readonly clientCpuMs: number;
  readonly snapshots: number;
  readonly snapshotBytes: number;
}
const samples: Sample[] = [];
try {
  for (let r = 0; r <= rounds; r++) {
    for (const snapshotEvery of [4, 0]) {
      const cluster = await connect({ servers: [server.url], snapshotEvery });
      const [s0, w0, c0, t0] = [cpuNs(serverPid), cpuNs(workerPid), process.cpuUsage(), performance.now()];
      const session = cluster.session({ prompt: 'red ball moving left', seed: r, blocks });
      for await (const _ of session.frames);
      const client = process.cpuUsage(c0);
      const sample: Sample = {
        snapshotEvery,
        wallMs: performance.now() - t0,
        serverCpuMs: (cpuNs(serverPid) - s0) / 1e6,
        workerCpuMs: (cpuNs(workerPid) - w0) / 1e6,
        clientCpuMs: (client.user + client.system) / 1000,
        snapshots: session.snapshots.length,
        snapshotBytes: session.snapshots.reduce((sum, n) => sum + n.bytes, 0),
      };
      await cluster.close();
      // Round 0 warms the worker up.
      if (r > 0) samples.push(sample);
      process.stderr.write(`round ${r} K=${snapshotEvery}: server ${sample.serverCpuMs.toFixed(0)} ms CPU, worker ${sample.workerCpuMs.toFixed(0)} ms, client ${sample.clientCpuMs.toFixed(0)} ms, wall ${sample.wallMs.toFixed(0)} ms\n`);
    }
  }
} finally {
  await worker.stop();
  await server.close();
}

const of = (every: number, f: (s: Sample) => number) => median(samples.filter((s) => s.snapshotEvery === every).map(f));
const on = samples.find((s) => s.snapshotEvery === 4);
const mib = (on?.snapshotBytes ?? 0) / 2 ** 20;
const extra = (f: (s: Sample) => number) => of(4, f) - of(0, f);
const summary = {
  model: values.model ?? 'models/sprites',
  blocks,
  rounds,
  snapshotsPerSession: on?.snapshots ?? 0,
  snapshotMiBPerSession: mib,
  extraServerCpuMs: extra((s) => s.serverCpuMs),
  extraWorkerCpuMs: extra((s) => s.workerCpuMs),
  extraClientCpuMs: extra((s) => s.clientCpuMs),
  wallMsWith: of(4, (s) => s.wallMs),
  wallMsWithout: of(0, (s) => s.wallMs),
};
const perBlock = (ms: number) => (ms / blocks).toFixed(1);
console.log(`snapshots every 4 blocks, ${blocks}-block P0 sessions, medians of ${rounds} alternated rounds: ${summary.snapshotsPerSession} snapshots, ${mib.toFixed(1)} MiB a session`);
console.log(`extra CPU a block: server ${perBlock(summary.extraServerCpuMs)} ms, worker ${perBlock(summary.extraWorkerCpuMs)} ms, client ${perBlock(summary.extraClientCpuMs)} ms; per MiB stored: server ${(summary.extraServerCpuMs / mib).toFixed(1)} ms, worker ${(summary.extraWorkerCpuMs / mib).toFixed(1)} ms`);
console.log(`wall: ${summary.wallMsWith.toFixed(0)} ms with, ${summary.wallMsWithout.toFixed(0)} ms without (one session on a one-lane worker: the other core takes the snapshots)`);
if (values.json) await writeFile(values.json, `${JSON.stringify({ summary, samples }, null, 2)}\n`);
