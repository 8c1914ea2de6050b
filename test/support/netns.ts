/**
 * Two network namespaces as two hosts joined by a veth pair (`ip netns`, root only): each has
 * its own loopback and one interface, and reaches the other only over that link. Both ends of
 * the pair live inside the namespaces, so nothing is added to this machine's own network and
 * concurrent runs do not collide (the namespace names carry the pid).
 */
import { spawnSync } from 'node:child_process';

/** Runs `ip` with `args`; throws with its error text when it fails. */
function ip(...args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`ip ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Whether network namespaces can be made here: null when `ip netns add` works (the probe
 * namespace is removed at once), else the command's error text. Synchronous, for deciding at
 * collection time whether to skip.
 */
export function netnsUnavailable(): string | null {
  const name = `bc-probe-${process.pid}`;
  try {
    ip('netns', 'add', name);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  try {
    ip('netns', 'del', name);
  } catch {
    // Made but not removed: the tests' own cleanup will fail loudly if that persists.
  }
  return null;
}

/** Two namespaces joined by a veth pair (see {@link twoHosts}). */
export interface TwoHosts {
  readonly a: { readonly ns: string; readonly addr: string; readonly dev: string };
  readonly b: { readonly ns: string; readonly addr: string; readonly dev: string };
  /** The prefix that runs a command in a namespace: `['ip', 'netns', 'exec', ns]` (it execs the command). */
  exec(ns: string): string[];
  /** Bytes sent so far by the namespace's end of the link. */
  txBytes(host: 'a' | 'b'): number;
  /** Kills what still runs in the two namespaces (only processes these tests started live there) and removes them. */
  destroy(): void;
}

/** Makes namespaces `bc-a-<pid>` and `bc-b-<pid>` with 10.200.<n>.1/24 and .2/24 on a veth pair. */
export function twoHosts(): TwoHosts {
  const subnet = `10.200.${(process.pid % 250) + 1}`;
  const a = { ns: `bc-a-${process.pid}`, addr: `${subnet}.1`, dev: 'bc-veth-a' };
  const b = { ns: `bc-b-${process.pid}`, addr: `${subnet}.2`, dev: 'bc-veth-b' };
  const made: string[] = [];
  const destroy = () => {
    const errors: string[] = [];
    for (const ns of made) {
      try {
        for (const pid of ip('netns', 'pids', ns).split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        ip('netns', 'del', ns);
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    made.length = 0;
    if (errors.length > 0) throw new Error(`removing the test namespaces: ${errors.join('; ')}`);
  };
  try {
    for (const host of [a, b]) {
      ip('netns', 'add', host.ns);
      made.push(host.ns);
    }
    ip('link', 'add', a.dev, 'netns', a.ns, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns);
    for (const host of [a, b]) {
      ip('-n', host.ns, 'addr', 'add', `${host.addr}/24`, 'dev', host.dev);
      ip('-n', host.ns, 'link', 'set', host.dev, 'up');
      ip('-n', host.ns, 'link', 'set', 'lo', 'up');
    }
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    a,
    b,
    exec: (ns) => ['ip', 'netns', 'exec', ns],
    txBytes(host) {
      const { ns, dev } = host === 'a' ? a : b;
      const [link] = JSON.parse(ip('-j', '-s', '-n', ns, 'link', 'show', 'dev', dev)) as { stats64: { tx: { bytes: number } } }[];
      return (link as { stats64: { tx: { bytes: number } } }).stats64.tx.bytes;
    },
    destroy,
  };
}
