/**
 * The Host and Origin policy that the inspector and the embedding example share: which names a
 * server answers by, and which browser requests it refuses.
 */
import { describe, expect, it } from 'vitest';
import { allowedHosts, checkOrigin } from '../src/inspector/origin-policy.js';

describe('origin policy', () => {
  it('answers by its own address and the loopback names, or any name on every interface', () => {
    expect(allowedHosts('127.0.0.1', 8080)).toEqual(['127.0.0.1:8080', 'localhost:8080', '[::1]:8080']);
    expect(allowedHosts('::1', 80)).toEqual(['[::1]:80', '127.0.0.1:80', 'localhost:80']);
    expect(allowedHosts('Box.Example', 80)).toEqual(['box.example:80', '127.0.0.1:80', 'localhost:80', '[::1]:80']);
    expect(allowedHosts('0.0.0.0', 80)).toBeNull();
    expect(allowedHosts('::', 80)).toBeNull();
  });

  it('refuses a foreign Host, a foreign Origin and a cross-site or same-site fetch', () => {
    const hosts = allowedHosts('127.0.0.1', 8080);
    expect(checkOrigin({ host: 'attacker.example:8080' }, hosts)?.code).toBe('FORBIDDEN_HOST');
    expect(checkOrigin({}, hosts)?.code).toBe('FORBIDDEN_HOST');
    expect(checkOrigin({ host: '127.0.0.1:8080', origin: 'http://attacker.example' }, hosts)?.code).toBe('FORBIDDEN_ORIGIN');
    // Another port of the same machine is another origin.
    expect(checkOrigin({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:9090' }, hosts)?.code).toBe('FORBIDDEN_ORIGIN');
    expect(checkOrigin({ host: '127.0.0.1:8080', 'sec-fetch-site': 'cross-site' }, hosts)?.code).toBe('FORBIDDEN_ORIGIN');
    expect(checkOrigin({ host: '127.0.0.1:8080', 'sec-fetch-site': 'same-site' }, hosts)?.code).toBe('FORBIDDEN_ORIGIN');
    expect(checkOrigin({ host: 'attacker.example' }, hosts)?.message).toContain('use http://127.0.0.1:8080/');
  });

  it('lets its own page, a typed address and clients without browser headers through', () => {
    const hosts = allowedHosts('127.0.0.1', 8080);
    expect(checkOrigin({ host: 'LOCALHOST:8080', origin: 'http://localhost:8080', 'sec-fetch-site': 'same-origin' }, hosts)).toBeNull();
    expect(checkOrigin({ host: '127.0.0.1:8080', 'sec-fetch-site': 'none' }, hosts)).toBeNull();
    expect(checkOrigin({ host: '127.0.0.1:8080' }, hosts)).toBeNull();
    expect(checkOrigin({ host: 'anything', origin: 'http://anywhere', 'sec-fetch-site': 'cross-site' }, null)).toBeNull();
  });
});
