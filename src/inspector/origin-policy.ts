/**
 * Who may talk to a local HTTP server: the Host and Origin policy shared by the inspector and
 * the embedding example (examples/embed-service). Listening on loopback does not keep a web
 * page elsewhere out: it can reach the server through a DNS name rebound to 127.0.0.1 (the Host
 * check), call it from its scripts or open its WebSocket (the Origin check), or make the
 * browser fetch it as an `<img>` or a link (`Sec-Fetch-Site`). Each server words its own answer
 * (plain text, JSON); the decision is made here once.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Why a request was refused, as the code a JSON answer carries. */
export type OriginRefusalCode = 'FORBIDDEN_HOST' | 'FORBIDDEN_ORIGIN';

/** A refused request: answer it with 403 and the message. */
export interface OriginRefusal {
  readonly code: OriginRefusalCode;
  readonly message: string;
}

/** Addresses that mean "every interface": such a server cannot know the names it is reached by. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

/**
 * The `Host` values (`name:port`, lower case) a server listening on `listenHost:port` answers:
 * its own address and the loopback names. Null for every interface (`0.0.0.0`, `::`), which
 * answers any name: listening there is the operator's choice to be reached from elsewhere.
 *
 * @example
 * ```ts
 * allowedHosts('127.0.0.1', 8080); // ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080']
 * allowedHosts('0.0.0.0', 8080);   // null
 * ```
 */
export function allowedHosts(listenHost: string, port: number): readonly string[] | null {
  if (WILDCARD_HOSTS.has(listenHost)) return null;
  const own = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  return [...new Set([own.toLowerCase(), '127.0.0.1', 'localhost', '[::1]'])].map((name) => `${name}:${port}`);
}

/**
 * Checks a request (or a WebSocket upgrade) against the policy: the `Host` must be one of
 * `hosts`; an `Origin`, when the browser sends one, must be `http://` and one of them; and a
 * request the browser marks cross-site or same-site (another port, another subdomain) is
 * refused, whatever it asks for. Clients that send neither header (curl, scripts) pass.
 *
 * @param hosts From {@link allowedHosts}; null answers everyone.
 * @returns null when the request may proceed, else why not.
 *
 * @example
 * ```ts
 * const refusal = checkOrigin(req.headers, allowedHosts('127.0.0.1', port));
 * if (refusal) return send(res, 403, refusal.message);
 * ```
 */
export function checkOrigin(headers: IncomingHttpHeaders, hosts: readonly string[] | null): OriginRefusal | null {
  if (hosts === null) return null;
  const host = String(headers.host ?? '').toLowerCase();
  if (!hosts.includes(host)) return { code: 'FORBIDDEN_HOST', message: `unexpected Host ${JSON.stringify(headers.host ?? null)}: use http://${hosts[0]}/` };
  const origin = headers.origin;
  if (origin !== undefined && !hosts.some((h) => origin.toLowerCase() === `http://${h}`)) return { code: 'FORBIDDEN_ORIGIN', message: `origin ${origin} may not use this server` };
  const site = headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return { code: 'FORBIDDEN_ORIGIN', message: `a ${site} request may not use this server` };
  return null;
}
