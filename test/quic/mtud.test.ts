/**
 * DPLPMTUD's search (RFC 9000 §14.3, RFC 8899 §5): the ceiling first, then
 * halving the interval; MAX_PROBES lost probes give a size up; black holes
 * (§4.3) fall back to the base size. Times in ms.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { MAX_PROBES, MtuDiscovery } from '../../src/quic/connection/mtud.js';

/** Runs the search against a path that carries up to `pathMtu`; returns the sizes probed. */
function search(m: MtuDiscovery, pathMtu: number): number[] {
  const probed: number[] = [];
  for (let now = 0, size = m.probeSize(now); size !== undefined; size = m.probeSize(++now)) {
    probed.push(size);
    if (size <= pathMtu) m.onProbeAcked(size);
    else m.onProbeLost(size);
  }
  return probed;
}

describe('RFC 8899: the DPLPMTUD search', () => {
  it('nothing is probed before the search starts, nor with discovery off', () => {
    const m = new MtuDiscovery(1200, 1452);
    expect(m.probeSize(0)).toBeUndefined();
    const off = new MtuDiscovery(1200, undefined);
    off.start(65527, 0);
    expect(off.probeSize(0)).toBeUndefined();
    expect(() => new MtuDiscovery(1200, 1000)).toThrow(ConfigError);
  });

  it('a path carrying the ceiling takes one probe', () => {
    const m = new MtuDiscovery(1200, 1452);
    m.start(65527, 0);
    expect(search(m, 1500)).toEqual([1452]);
    expect(m.current).toBe(1452);
  });

  it('the peer\'s max_udp_payload_size caps the ceiling (RFC 9000 §18.2)', () => {
    const m = new MtuDiscovery(1200, 1452);
    m.start(1300, 0);
    expect(search(m, 1500)).toEqual([1300]);
  });

  it('a size is given up after MAX_PROBES (3) losses, then the interval is halved down to 20 bytes', () => {
    const m = new MtuDiscovery(1200, 1452);
    m.start(65527, 0);
    const probed = search(m, 1350);
    expect(probed.slice(0, MAX_PROBES)).toEqual([1452, 1452, 1452]);
    expect(probed[MAX_PROBES]).toBe(1326); // ⌈(1200 + 1451)/2⌉
    expect(m.current).toBeGreaterThan(1330);
    expect(m.current).toBeLessThanOrEqual(1350);
  });

  it('a path stuck at the base size keeps it', () => {
    const m = new MtuDiscovery(1200, 1452);
    m.start(65527, 0);
    const probed = search(m, 1200);
    expect(m.current).toBe(1200);
    expect(probed.length).toBeLessThanOrEqual(MAX_PROBES * 6);
  });

  it('§4.3: three loss events of large datagrams with none acknowledged in between fall back to the base', () => {
    const m = new MtuDiscovery(1200, 1452);
    m.start(65527, 0);
    search(m, 1500);
    expect(m.onLost([1452], 10)).toBeUndefined();
    m.onAcked(1452); // a large datagram got through: not a black hole
    expect(m.onLost([1452, 1452], 20)).toBeUndefined();
    expect(m.onLost([1452], 30)).toBeUndefined();
    expect(m.onLost([1200], 35)).toBeUndefined(); // small losses say nothing
    expect(m.onLost([1452], 40)).toBe(1200);
    expect(m.current).toBe(1200);
    // The search resumes after a cooldown.
    expect(m.probeSize(41)).toBeUndefined();
    expect(m.probeSize(60_040)).toBe(1452);
  });
});

describe('RFC 9000 §14.3: a new path', () => {
  it('reset() goes back to the base size and searches again from the next start()', () => {
    const m = new MtuDiscovery(1200, 1452);
    m.start(65527, 0);
    search(m, 1500);
    expect(m.current).toBe(1452);
    m.reset();
    expect(m.current).toBe(1200);
    expect(m.probeSize(1)).toBeUndefined();
    m.start(65527, 2);
    expect(m.probeSize(2)).toBe(1452);
  });
});

describe('RFC 8899 §5.1.2: a ceiling per path (MAX_PLPMTU is bounded by the local interface\'s MTU)', () => {
  /** A transport that knows one interface with a large MTU (a loopback), and nothing about the others. */
  const ceiling = (remote: string): number => (remote.startsWith('127.') ? 65_507 : 1452);

  it('is asked of the path\'s remote address when the search starts, and caps it as a number would', () => {
    const asked: string[] = [];
    const m = new MtuDiscovery(1200, (r) => (asked.push(r), ceiling(r)));
    expect(asked).toEqual([]);
    m.start(65_527, 0, '127.0.0.1:4433');
    expect(asked).toEqual(['127.0.0.1:4433']);
    expect(search(m, 65_535)).toEqual([65_507]);
    expect(m.current).toBe(65_507);
    const far = new MtuDiscovery(1200, ceiling);
    far.start(65_527, 0, '192.0.2.1:4433');
    expect(search(far, 65_535)).toEqual([1452]);
  });

  it('a path that drops datagrams above N converges to at most N, from a 65507 ceiling too', () => {
    for (const n of [1500, 9000, 16_384 - 28, 40_000]) {
      const m = new MtuDiscovery(1200, ceiling);
      m.start(65_527, 0, '127.0.0.1:1');
      const probed = search(m, n);
      expect(m.current).toBeLessThanOrEqual(n);
      expect(m.current).toBeGreaterThan(n - 20 - 1); // quinn's minimum_change
      // Binary search over 64 000 bytes down to 20: 12 sizes at most, each acknowledged once or lost MAX_PROBES times.
      expect(probed.length).toBeLessThanOrEqual(MAX_PROBES * 12);
    }
  });

  it('a new path (reset) asks again: a move from loopback to another address is back to 1452 (RFC 9000 §9.4)', () => {
    const m = new MtuDiscovery(1200, ceiling);
    m.start(65_527, 0, '127.0.0.1:1');
    search(m, 65_535);
    expect(m.current).toBe(65_507);
    m.reset();
    m.start(65_527, 0, '198.51.100.7:443');
    expect(search(m, 65_535)).toEqual([1452]);
    expect(m.current).toBe(1452);
  });

  it('the peer\'s max_udp_payload_size still caps it, and a result below the base (or NaN) means no search', () => {
    const m = new MtuDiscovery(1200, () => 65_507);
    m.start(9000, 0, 'x');
    expect(search(m, 65_535)).toEqual([9000]);
    for (const bad of [1000, Number.NaN, -Infinity]) {
      const off = new MtuDiscovery(1200, () => bad);
      off.start(65_527, 0, 'x');
      expect(off.probeSize(0)).toBeUndefined();
      expect(off.current).toBe(1200);
    }
    const odd = new MtuDiscovery(1200, () => 1452.7);
    odd.start(65_527, 0, 'x');
    expect(search(odd, 65_535)).toEqual([1452]);
  });
});
