/**
 * Service identity (RFC 9525 §6) and name constraints (RFC 5280 §4.2.1.10)
 * for DNS names and IP addresses.
 */
import { describe, expect, it } from 'vitest';
import { dnsNameMatches, formatIp, parseIp } from '../../src/x509/index.js';
import type { NameConstraints, SubjectAltNames } from '../../src/x509/index.js';
import { nameConstraintViolation } from '../../src/x509/name-constraints.js';

describe('RFC 9525 §6.3 DNS-ID matching', () => {
  const cases: [string, string, boolean][] = [
    ['example.com', 'example.com', true],
    ['Example.COM', 'example.com', true],
    ['example.com', 'example.com.', true],
    ['example.com', 'www.example.com', false],
    ['*.example.com', 'www.example.com', true],
    ['*.example.com', 'WWW.Example.Com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['w*.example.com', 'www.example.com', false],
    ['*w.example.com', 'www.example.com', false],
    ['www.*.com', 'www.example.com', false],
    ['*.com', 'example.com', false],
    ['*', 'localhost', false],
    ['*.xn--caf-dma.example', 'www.xn--caf-dma.example', true],
    ['localhost', 'localhost', true],
  ];
  for (const [pattern, host, want] of cases) {
    it(`${pattern} ${want ? 'matches' : 'does not match'} ${host}`, () => {
      expect(dnsNameMatches(pattern, host)).toBe(want);
    });
  }
  it('a U-label reference identity never matches (A-labels only)', () => {
    expect(dnsNameMatches('café.example', 'café.example')).toBe(false);
  });
});

describe('IP address text (RFC 9525 §6.2, RFC 4291 §2.2, RFC 5952)', () => {
  it('parses strict IPv4 and all IPv6 forms', () => {
    expect(parseIp('127.0.0.1')).toEqual(new Uint8Array([127, 0, 0, 1]));
    expect(parseIp('::1')).toEqual(new Uint8Array([...new Array(15).fill(0), 1]));
    expect(parseIp('[2001:db8::1]')?.[15]).toBe(1);
    expect(parseIp('::ffff:192.0.2.1')?.slice(10)).toEqual(new Uint8Array([0xff, 0xff, 192, 0, 2, 1]));
    for (const bad of ['127.1', '127.0.0.01', '256.0.0.1', '1.2.3.4.5', '1::2::3', '12345::', 'localhost', '1:2:3:4:5:6:7:8:9', ':::']) {
      expect(parseIp(bad)).toBeUndefined();
    }
  });
  it('formats IPv6 with the longest zero run compressed', () => {
    expect(formatIp(parseIp('2001:db8:0:0:1:0:0:1') as Uint8Array)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(parseIp('::1') as Uint8Array)).toBe('::1');
    expect(formatIp(parseIp('10.1.2.3') as Uint8Array)).toBe('10.1.2.3');
  });
});

describe('name constraints (RFC 5280 §4.2.1.10)', () => {
  const san = (dns: string[], ip: string[] = []): SubjectAltNames => ({
    dns, ip: ip.map((i) => parseIp(i) as Uint8Array), email: [], uri: [], other: 0,
  });
  const dns = (name: string) => ({ kind: 'dns' as const, name });
  const net = (a: string, m: string) => ({ kind: 'ip' as const, address: parseIp(a) as Uint8Array, mask: parseIp(m) as Uint8Array });

  it('a permitted DNS subtree covers the name and its subdomains', () => {
    const nc: NameConstraints = { permitted: [dns('example.com')], excluded: [] };
    expect(nameConstraintViolation(nc, san(['example.com', 'a.b.example.com', '*.example.com']))).toBeUndefined();
    expect(nameConstraintViolation(nc, san(['badexample.com']))).toMatch(/outside the permitted subtrees/);
    expect(nameConstraintViolation(nc, san(['example.org']))).toMatch(/"example.org" is outside/);
  });
  it('a leading-dot subtree covers subdomains only', () => {
    const nc: NameConstraints = { permitted: [dns('.example.com')], excluded: [] };
    expect(nameConstraintViolation(nc, san(['www.example.com', '*.example.com']))).toBeUndefined();
    expect(nameConstraintViolation(nc, san(['example.com']))).toMatch(/outside/);
  });
  it('an excluded subtree catches names and wildcards that could reach into it', () => {
    const nc: NameConstraints = { permitted: [], excluded: [dns('secret.example.com')] };
    expect(nameConstraintViolation(nc, san(['www.example.com']))).toBeUndefined();
    expect(nameConstraintViolation(nc, san(['a.secret.example.com']))).toMatch(/excluded subtree "secret.example.com"/);
    expect(nameConstraintViolation(nc, san(['*.example.com']))).toMatch(/excluded/);
    expect(nameConstraintViolation(nc, san(['*.other.example.com']))).toBeUndefined();
  });
  it('IP subtrees compare under the mask, per address family', () => {
    const nc: NameConstraints = { permitted: [net('10.0.0.0', '255.0.0.0')], excluded: [net('10.9.0.0', '255.255.0.0')] };
    expect(nameConstraintViolation(nc, san([], ['10.1.2.3']))).toBeUndefined();
    expect(nameConstraintViolation(nc, san([], ['11.1.2.3']))).toMatch(/11.1.2.3 is outside/);
    expect(nameConstraintViolation(nc, san([], ['10.9.1.1']))).toMatch(/excluded/);
    expect(nameConstraintViolation(nc, san([], ['::1']))).toMatch(/outside/);
    // DNS names are not restricted by IP-only constraints.
    expect(nameConstraintViolation(nc, san(['anything.test']))).toBeUndefined();
  });
  it('constraints of forms not enforced here are refused, not ignored', () => {
    const nc: NameConstraints = { permitted: [], excluded: [{ kind: 'unsupported', form: 'directoryName' }] };
    expect(nameConstraintViolation(nc, san(['a.test']))).toMatch(/directoryName names are not supported/);
  });
});
