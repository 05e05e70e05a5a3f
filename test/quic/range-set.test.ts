/**
 * RangeSet, the sets of stream offsets behind send and receive streams
 * (RFC 9000 §2.2, §13.3: what was acknowledged, what was lost): every
 * operation agrees with a plain set of offsets, whatever order ranges come
 * in, and the ranges it keeps stay sorted, disjoint and non-adjacent.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeSet } from '../../src/quic/connection/range-set.js';
import { seeded } from '../helpers/fc.js';

const DOMAIN = 200;

const op = fc.record({
  kind: fc.constantFrom('add', 'add', 'remove'),
  start: fc.integer({ min: 0, max: DOMAIN }),
  length: fc.integer({ min: 0, max: 40 }),
});

function ranges(s: RangeSet): [number, number][] {
  return [...s.ranges()].map((r) => [r.start, r.end]);
}

function modelRanges(m: Set<number>): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i <= DOMAIN + 40; i++) {
    if (!m.has(i)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}

describe('RangeSet', () => {
  it('agrees with a set of offsets after any sequence of adds and removes', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: DOMAIN }), (ops, probe) => {
      const s = new RangeSet();
      const m = new Set<number>();
      for (const o of ops) {
        const end = o.start + o.length;
        if (o.kind === 'add') s.add(o.start, end);
        else s.remove(o.start, end);
        for (let i = o.start; i < end; i++) {
          if (o.kind === 'add') m.add(i);
          else m.delete(i);
        }
        expect(ranges(s)).toEqual(modelRanges(m));
      }
      let c = probe;
      while (m.has(c)) c++;
      expect(s.contiguousFrom(probe)).toBe(c);
      expect(s.gaps(probe, probe + 30).flatMap((g) => Array.from({ length: g.end - g.start }, (_, k) => g.start + k)))
        .toEqual(Array.from({ length: 30 }, (_, k) => probe + k).filter((i) => !m.has(i)));
    }), seeded(31337, { numRuns: 300 }));
  });

  it('data acknowledged in order is one range that grows; a range past the others is appended', () => {
    const s = new RangeSet();
    for (let off = 0; off < 14_000; off += 1400) s.add(off, off + 1400);
    expect(ranges(s)).toEqual([[0, 14_000]]);
    s.add(20_000, 21_000);
    s.add(30_000, 31_000);
    expect(ranges(s)).toEqual([[0, 14_000], [20_000, 21_000], [30_000, 31_000]]);
    s.add(14_000, 20_000);
    expect(ranges(s)).toEqual([[0, 21_000], [30_000, 31_000]]);
    expect(s.contiguousFrom(0)).toBe(21_000);
  });
});
