/**
 * RFC 9000 §2–§4 streams and flow control, as the sans-IO StreamManager sees
 * them: stream IDs (§2.1), ordered and out-of-order delivery (§2.2), the
 * sending and receiving state machines (§3), flow control and final size
 * (§4), the stream frames' error rules (§19.4–§19.14) and retransmission of
 * what was lost (§13.3).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { RecvBuffer } from '../../src/quic/connection/recv-buffer.js';
import {
  canReceive, canSend, isBidirectional, isLocallyInitiated, streamIdFor, streamIndex,
} from '../../src/quic/connection/stream-id.js';
import {
  StreamManager, StreamsBlockedError, StreamUsageError, type StreamEvent, type StreamLimits,
} from '../../src/quic/connection/streams.js';
import { decodeFrames, encodeFrames, QuicTransportError, TransportErrorCode, type Frame } from '../../src/quic/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { seeded } from '../helpers/fc.js';

const LIMITS: StreamLimits = {
  initialMaxData: 1000,
  initialMaxStreamDataBidiLocal: 200,
  initialMaxStreamDataBidiRemote: 200,
  initialMaxStreamDataUni: 200,
  initialMaxStreamsBidi: 4,
  initialMaxStreamsUni: 4,
};

const E = TransportErrorCode;

function pair(client: StreamLimits = LIMITS, server: StreamLimits = LIMITS): { c: StreamManager; s: StreamManager } {
  const c = new StreamManager('client', client);
  const s = new StreamManager('server', server);
  c.setPeerLimits(server);
  s.setPeerLimits(client);
  return { c, s };
}

/** A manager that received the peer's limits (peer = `peer`), for feeding hand-made frames. */
function manager(role: 'client' | 'server', local: StreamLimits = LIMITS, peer: StreamLimits = LIMITS): StreamManager {
  const m = new StreamManager(role, local);
  m.setPeerLimits(peer);
  return m;
}

/** Sends everything `from` has (one poll of `budget`), delivers it to `to` and acknowledges it. */
function flush(from: StreamManager, to: StreamManager, budget = 1200): Frame[] {
  const all: Frame[] = [];
  for (let i = 0; i < 1000 && from.hasPendingFrames; i++) {
    const frames = from.pollFrames(budget);
    if (frames.length === 0) break;
    for (const f of frames) to.onFrame(f);
    for (const f of frames) from.onAcked(f);
    all.push(...frames);
  }
  return all;
}

function events(m: StreamManager): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (let e = m.pollEvent(); e; e = m.pollEvent()) out.push(e);
  return out;
}

function readAll(m: StreamManager, id: number, max?: number): { data: Uint8Array; fin: boolean } {
  const parts: Uint8Array[] = [];
  let fin = false;
  for (let r = m.read(id, max); r; r = m.read(id, max)) {
    parts.push(r.data);
    fin ||= r.fin;
  }
  return { data: concat(...parts), fin };
}

function errorOf(f: () => unknown): QuicTransportError {
  try {
    f();
  } catch (e) {
    if (e instanceof QuicTransportError) return e;
    throw e;
  }
  throw new Error('expected a QuicTransportError');
}

const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const stream = (streamId: number, offset: number, data: Uint8Array, fin = false): Frame =>
  ({ type: 'stream', streamId, offset, data, fin, hasLength: true });
const ofType = <T extends Frame['type']>(frames: Frame[], type: T): Extract<Frame, { type: T }>[] =>
  frames.filter((f): f is Extract<Frame, { type: T }> => f.type === type);

describe('§2.1 stream IDs', () => {
  it('the two low bits name the initiator and the direction (Table 1)', () => {
    expect([0, 1, 2, 3].map((id) => [isLocallyInitiated(id, 'client'), isBidirectional(id)]))
      .toEqual([[true, true], [false, true], [true, false], [false, false]]);
    expect(streamIdFor(5, 'server', false)).toBe(23);
    expect(streamIndex(23)).toBe(5);
    // Above 2^32 the arithmetic must not truncate.
    expect(streamIdFor(2 ** 40, 'client', true)).toBe(2 ** 42);
    expect(isBidirectional(2 ** 42 + 2)).toBe(false);
    expect(canSend(2, 'server')).toBe(false);
    expect(canReceive(2, 'server')).toBe(true);
    expect(canSend(3, 'server')).toBe(true);
    expect(canReceive(3, 'server')).toBe(false);
  });

  it('each side opens its own IDs in increasing order', () => {
    const { c, s } = pair();
    expect([c.open(true), c.open(true), c.open(false), c.open(false)]).toEqual([0, 4, 2, 6]);
    expect([s.open(true), s.open(false), s.open(true)]).toEqual([1, 3, 5]);
  });
});

describe('§4.6 stream concurrency', () => {
  it('open() beyond the peer\'s MAX_STREAMS throws and queues STREAMS_BLOCKED once per limit', () => {
    const c = manager('client', LIMITS, { ...LIMITS, initialMaxStreamsBidi: 1 });
    c.open(true);
    const err = (() => {
      try {
        c.open(true);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(StreamsBlockedError);
    expect(err).toBeInstanceOf(ConfigError);
    expect(c.openable(true)).toBe(0);
    expect(c.openable(false)).toBe(4);
    expect(c.pollFrames(1200)).toEqual([{ type: 'streams_blocked', bidirectional: true, limit: 1 }]);
    expect(() => c.open(true)).toThrow(StreamsBlockedError);
    expect(c.hasPendingFrames).toBe(false);
  });

  it('a larger MAX_STREAMS lets open() succeed and says so; a smaller one is ignored (§19.11)', () => {
    const c = manager('client', LIMITS, { ...LIMITS, initialMaxStreamsBidi: 0 });
    expect(() => c.open(true)).toThrow(StreamsBlockedError);
    c.onFrame({ type: 'max_streams', bidirectional: true, maximum: 2 });
    expect(events(c)).toEqual([{ type: 'streams_available', bidirectional: true }]);
    c.onFrame({ type: 'max_streams', bidirectional: true, maximum: 1 });
    expect([c.open(true), c.open(true)]).toEqual([0, 4]);
    expect(() => c.open(true)).toThrow(StreamsBlockedError);
  });

  it('MAX_STREAMS or STREAMS_BLOCKED above 2^60 is a FRAME_ENCODING_ERROR', () => {
    const c = manager('client');
    expect(errorOf(() => c.onFrame({ type: 'max_streams', bidirectional: false, maximum: 2 ** 60 + 4096 })).code).toBe(E.FRAME_ENCODING_ERROR);
    const e = errorOf(() => c.onFrame({ type: 'streams_blocked', bidirectional: true, limit: 2 ** 61 }));
    expect(e.code).toBe(E.FRAME_ENCODING_ERROR);
    expect(e.frameType).toBe(0x16);
  });

  it('a peer stream beyond our limit is a STREAM_LIMIT_ERROR, for any frame naming it', () => {
    const s = manager('server');
    // Client bidi index 4 (ID 16) is the fifth stream; we allowed 4.
    const e = errorOf(() => s.onFrame(stream(16, 0, bytes(1))));
    expect(e.code).toBe(E.STREAM_LIMIT_ERROR);
    expect(e.frameType).toBe(0x0a);
    expect(errorOf(() => s.onFrame({ type: 'reset_stream', streamId: 18, errorCode: 0, finalSize: 0 })).code).toBe(E.STREAM_LIMIT_ERROR);
    expect(errorOf(() => s.onFrame({ type: 'max_stream_data', streamId: 16, maximum: 9 })).code).toBe(E.STREAM_LIMIT_ERROR);
    s.onFrame(stream(12, 0, bytes(1)));
  });

  it('a frame for a higher peer stream opens all lower ones of that type (§3.2)', () => {
    const s = manager('server');
    s.onFrame(stream(8, 0, bytes(3)));
    expect(events(s)).toEqual([
      { type: 'opened', id: 0 }, { type: 'opened', id: 4 }, { type: 'opened', id: 8 }, { type: 'readable', id: 8 },
    ]);
    s.onFrame(stream(4, 0, bytes(2)));
    expect(events(s)).toEqual([{ type: 'readable', id: 4 }]);
  });

  it('closing peer streams raises MAX_STREAMS in batches, and STREAMS_BLOCKED is answered', () => {
    const { c, s } = pair();
    for (let i = 0; i < 4; i++) c.write(c.open(false), bytes(10), true);
    expect(() => c.open(false)).toThrow(StreamsBlockedError);
    flush(c, s);
    for (const id of [2, 6]) expect(readAll(s, id).fin).toBe(true);
    // Two of four closed: half the initial allowance, so MAX_STREAMS 6 goes out.
    const frames = flush(s, c);
    expect(ofType(frames, 'max_streams')).toEqual([{ type: 'max_streams', bidirectional: false, maximum: 6 }]);
    expect(events(c)).toContainEqual({ type: 'streams_available', bidirectional: false });
    expect(c.open(false)).toBe(18);
    readAll(s, 10);
    expect(s.hasPendingFrames).toBe(false);
    s.onFrame({ type: 'streams_blocked', bidirectional: false, limit: 6 });
    expect(s.pollFrames(1200)).toEqual([{ type: 'max_streams', bidirectional: false, maximum: 7 }]);
  });
});

describe('§2.2 sending and receiving data', () => {
  it('data written on one side is read in order on the other, with FIN', () => {
    const { c, s } = pair();
    const id = c.open(true);
    c.write(id, bytes(50));
    c.write(id, bytes(30, 7), true);
    flush(c, s);
    expect(events(s)).toEqual([{ type: 'opened', id }, { type: 'readable', id }, { type: 'finished', id }]);
    expect(s.read(id, 20)).toEqual({ data: bytes(50).subarray(0, 20), fin: false });
    expect(readAll(s, id)).toEqual({ data: concat(bytes(50).subarray(20), bytes(30, 7)), fin: true });
    expect(s.read(id)).toBeUndefined();
  });

  it('a write is copied: the writer may reuse its array at once, and what goes out is what it held when written', () => {
    const { c } = pair();
    const id = c.open(true);
    const data = bytes(50);
    c.write(id, data);
    data.fill(0xee);
    const [f] = c.pollFrames(1200);
    expect(f).toMatchObject({ type: 'stream', streamId: id, offset: 0, data: bytes(50) });
    expect(f?.type === 'stream' && f.data.buffer).not.toBe(data.buffer);
  });

  it('a write with copy: false keeps the writer\'s array itself: frames are views of it, not of a copy', () => {
    const { c, s } = pair();
    const id = c.open(true);
    const data = bytes(150);
    c.write(id, data, true, false);
    const frames = c.pollFrames(1200);
    expect(frames.map((f) => f.type === 'stream' && f.data.buffer === data.buffer)).toEqual([true]);
    for (const f of frames) s.onFrame(f);
    expect(readAll(s, id)).toEqual({ data: bytes(150), fin: true });
  });

  it('out-of-order and overlapping frames are reassembled; readable only once the gap fills', () => {
    const s = manager('server');
    const all = bytes(100);
    s.onFrame(stream(0, 60, all.subarray(60, 100), true));
    s.onFrame(stream(0, 20, all.subarray(20, 50)));
    s.onFrame(stream(0, 30, all.subarray(30, 70)));
    expect(events(s)).toEqual([{ type: 'opened', id: 0 }]);
    expect(s.read(0)).toBeUndefined();
    s.onFrame(stream(0, 0, all.subarray(0, 25)));
    expect(events(s)).toEqual([{ type: 'readable', id: 0 }, { type: 'finished', id: 0 }]);
    expect(readAll(s, 0)).toEqual({ data: all, fin: true });
  });

  it('data already read may arrive again and is ignored', () => {
    const s = manager('server');
    s.onFrame(stream(0, 0, bytes(10)));
    readAll(s, 0);
    s.onFrame(stream(0, 0, bytes(15)));
    expect(readAll(s, 0).data).toEqual(bytes(15).subarray(10));
  });

  it('data that changes bytes already buffered is a PROTOCOL_VIOLATION (§2.2 MAY)', () => {
    const s = manager('server');
    s.onFrame(stream(0, 10, bytes(10)));
    const changed = bytes(10);
    changed[3] = (changed[3] ?? 0) ^ 1;
    const e = errorOf(() => s.onFrame(stream(0, 5, concat(new Uint8Array(5), changed))));
    expect(e.code).toBe(E.PROTOCOL_VIOLATION);
  });

  it('a stream with no data and a FIN reads as an empty end (§19.8)', () => {
    const s = manager('server');
    s.onFrame(stream(2, 0, new Uint8Array(0), true));
    expect(events(s)).toEqual([{ type: 'opened', id: 2 }, { type: 'readable', id: 2 }, { type: 'finished', id: 2 }]);
    expect(s.read(2)).toEqual({ data: new Uint8Array(0), fin: true });
    expect(s.read(2)).toBeUndefined();
  });

  it('the reassembly buffer holds overlapping data once and never grows beyond the window', () => {
    const buf = new RecvBuffer(1000);
    const all = bytes(1000);
    // Every other 10-byte block, then the whole window twice over.
    for (let o = 990; o >= 0; o -= 20) expect(buf.insert(o, all.subarray(o, o + 10))).toBe('ok');
    expect(buf.fragments).toBe(50);
    expect(buf.available).toBe(0);
    expect(buf.insert(0, all)).toBe('ok');
    expect(buf.insert(500, all.subarray(500))).toBe('ok');
    expect(buf.fragments).toBe(1);
    expect(buf.buffered).toBe(1000);
    expect(buf.capacity).toBeLessThanOrEqual(1000);
    expect(buf.read(400)).toEqual(all.subarray(0, 400));
    expect(buf.insert(1000, bytes(400))).toBe('ok');
    expect(buf.capacity).toBeLessThanOrEqual(1000);
    expect(buf.read(Infinity)).toEqual(concat(all.subarray(400), bytes(400)));
    expect(buf.capacity).toBe(0);
  });

  it('in-order data reaching an empty buffer is held and read without a copy', () => {
    const buf = new RecvBuffer(1000);
    const packet = bytes(300);
    const frameData = packet.subarray(20, 220);
    expect(buf.insert(0, frameData)).toBe('ok');
    expect(buf.capacity).toBe(200);
    const out = buf.read(Infinity);
    expect(out).toEqual(frameData);
    expect(out.buffer).toBe(packet.buffer);
    expect(out.byteOffset).toBe(20);
    expect(buf.capacity).toBe(0);
  });

  it('in-order packets of a batch are held as they came and read with one copy, not copied into a growing array', () => {
    // A reader that keeps up reads what a batch of datagrams brought once the batch is handled: each packet's
    // STREAM data continues the last, in its own decrypted packet (RFC 9000 §2.2: bytes leave in order).
    const buf = new RecvBuffer(1 << 20);
    const packets = Array.from({ length: 32 }, (_, i) => bytes(1452, i));
    const frames = packets.map((p) => p.subarray(30, 1430));
    let offset = 0;
    for (const f of frames) {
      expect(buf.insert(offset, f)).toBe('ok');
      offset += f.length;
    }
    expect(buf.available).toBe(offset);
    // Nothing of our own allocated while they were held: only the packets themselves are kept alive.
    expect(buf.retainedBytes).toBe(32 * 1452);
    const out = buf.read(Infinity);
    expect(out).toEqual(concat(...frames));
    expect(buf.capacity).toBe(0);
    for (let i = 0; i < 32; i++) expect(packets[i]).toEqual(bytes(1452, i)); // never written
  });

  it('a chunk read takes what one frame brought, as a view of its packet, however much is readable; FIN with the last', () => {
    // A reader that consumes piece by piece (a hash, a file) need not have a batch of packets copied together.
    const s = manager('server');
    const packets = [bytes(120, 1), bytes(120, 2), bytes(120, 3)];
    const frames = packets.map((p) => p.subarray(10, 70));
    frames.forEach((f, i) => s.onFrame(stream(0, 60 * i, f, i === 2)));
    const reads: { data: Uint8Array; fin: boolean }[] = [];
    for (let r = s.read(0, Infinity, true); r; r = s.read(0, Infinity, true)) reads.push(r);
    expect(reads.map((r) => r.fin)).toEqual([false, false, true]);
    reads.forEach((r, i) => {
      expect(r.data).toEqual(frames[i]);
      expect(r.data.buffer).toBe(packets[i]!.buffer);
      expect(r.data.byteOffset).toBe(10);
    });
    // `max` still bounds a chunk read; a plain read of several pieces is one new array.
    const t = manager('server');
    frames.forEach((f, i) => t.onFrame(stream(0, 60 * i, f)));
    expect(t.read(0, 25, true)!.data).toEqual(frames[0]!.subarray(0, 25));
    expect(t.read(0, Infinity, true)!.data).toEqual(frames[0]!.subarray(25));
    const rest = t.read(0)!.data;
    expect(rest).toEqual(concat(frames[1]!, frames[2]!));
    expect(packets.some((p) => p.buffer === rest.buffer)).toBe(false);
  });

  it('a chunk read after reordering returns a view of the reassembly buffer: all that is in order, still without a copy', () => {
    const s = manager('server');
    const all = bytes(150, 9);
    s.onFrame(stream(0, 100, all.slice(100)));
    s.onFrame(stream(0, 0, all.slice(0, 100)));
    const first = s.read(0, Infinity, true)!;
    expect(first.data).toEqual(all);
    expect(s.read(0, Infinity, true)).toBeUndefined();
  });

  it('a read of part of what is held hands out views of whole pieces where it can, and the rest stays in order', () => {
    const buf = new RecvBuffer(1000);
    const all = bytes(600, 7);
    for (let o = 0; o < 600; o += 100) expect(buf.insert(o, all.slice(o, o + 100))).toBe('ok');
    expect(buf.read(50)).toEqual(all.subarray(0, 50));
    expect(buf.read(50)).toEqual(all.subarray(50, 100));
    expect(buf.read(250)).toEqual(all.subarray(100, 350));
    // Out of order and overlapping data now: what is held moves into one array, and compares as before (§2.2).
    expect(buf.insert(500, all.subarray(500, 600))).toBe('ok');
    expect(buf.insert(300, bytes(10, 99))).toBe('ok'); // below the read offset: already read, ignored
    expect(buf.insert(400, Uint8Array.from(all.subarray(400, 410), (b) => b ^ 1))).toBe('conflict');
    expect(buf.insert(650, all.subarray(0, 50))).toBe('ok');
    expect(buf.fragments).toBe(2);
    expect(buf.read(Infinity)).toEqual(all.subarray(350));
  });

  it('one-byte pieces each in its own packet do not keep a window of packets alive', () => {
    // Each array held as it came keeps its whole packet in memory: a peer sending one-byte STREAM frames in
    // full-size packets must not turn a window of bytes into a window of packets.
    const buf = new RecvBuffer(1 << 20);
    const n = 3000;
    for (let o = 0; o < n; o++) {
      const packet = new Uint8Array(1452);
      packet[100] = o & 0xff;
      expect(buf.insert(o, packet.subarray(100, 101))).toBe('ok');
      expect(buf.retainedBytes).toBeLessThanOrEqual(2 * (o + 1) + 64 * 1024 + 1452);
    }
    expect(buf.read(Infinity)).toEqual(Uint8Array.from({ length: n }, (_, o) => o & 0xff));
  });

  it('the array a frame brought is never written, and views handed out by read never change', () => {
    const buf = new RecvBuffer(1000);
    const all = bytes(1000, 3);
    const first = all.slice(0, 100);
    const firstCopy = first.slice();
    expect(buf.insert(0, first)).toBe('ok'); // held as it is
    expect(buf.insert(150, all.subarray(150, 300))).toBe('ok'); // out of order: must not land in `first`
    expect(buf.insert(100, all.subarray(100, 150))).toBe('ok');
    expect(first).toEqual(firstCopy);
    const a = buf.read(120);
    const aCopy = a.slice();
    // More data, more reads, and the buffer compacting or growing under them: `a` stays as it was handed out.
    for (let o = 300; o < 1000; o += 100) {
      expect(buf.insert(o, all.subarray(o, o + 100))).toBe('ok');
      expect(buf.read(90)).toEqual(all.subarray(buf.readOffset - 90, buf.readOffset));
      expect(buf.capacity).toBeLessThanOrEqual(1000);
    }
    expect(a).toEqual(aCopy);
    expect(a).toEqual(all.subarray(0, 120));
    expect(buf.read(Infinity)).toEqual(all.subarray(750));
    expect(first).toEqual(firstCopy);
  });

  it('bytes held beyond the limit the buffer was made with (a window auto-tuned upwards) survive a gap filled under a view', () => {
    // Made for a 100-byte window that has since grown: held bytes reach 160 past the read offset when a read
    // leaves views out and a gap is then filled. Copying what is held out of the shared array must keep all of it.
    const buf = new RecvBuffer(100);
    const all = bytes(300, 5);
    expect(buf.insert(0, all.slice(0, 50))).toBe('ok'); // in order into an empty buffer: held as it came
    expect(buf.insert(200, all.subarray(200, 210))).toBe('ok');
    expect(buf.insert(60, all.subarray(60, 70))).toBe('ok');
    expect(buf.read(50)).toEqual(all.subarray(0, 50)); // a view: the array is shared again
    expect(buf.insert(50, all.subarray(50, 60))).toBe('ok');
    expect(buf.insert(70, all.subarray(70, 200))).toBe('ok');
    expect(buf.read(Infinity)).toEqual(all.subarray(50, 210));
  });

  it('a buffer raised to a grown window grows up to it, never beyond what it must', () => {
    const buf = new RecvBuffer(100);
    buf.raiseCapacityLimit(400);
    const all = bytes(400, 6);
    expect(buf.insert(10, all.subarray(10, 20))).toBe('ok');
    expect(buf.insert(390, all.subarray(390, 400))).toBe('ok');
    expect(buf.capacity).toBeLessThanOrEqual(400);
    expect(buf.insert(0, all.subarray(0, 10))).toBe('ok');
    expect(buf.insert(20, all.subarray(20, 390))).toBe('ok');
    expect(buf.read(Infinity)).toEqual(all);
  });

  it('frames returned by pollFrames never exceed the budget, sized by the encoder', () => {
    const ids = [0, 2];
    for (const budget of [1, 3, 4, 7, 10, 64, 70, 1200]) {
      const { c: x } = pair();
      for (const id of ids) {
        x.open(id % 4 === 0);
        x.write(id, bytes(180), true);
      }
      for (let i = 0; i < 100 && x.hasPendingFrames; i++) {
        const frames = x.pollFrames(budget);
        expect(encodeFrames(frames).length).toBeLessThanOrEqual(budget);
        if (budget < 4) expect(frames).toEqual([]);
        if (frames.length === 0) break;
      }
    }
  });

  it('streams with data are served round-robin', () => {
    const { c } = pair({ ...LIMITS, initialMaxData: 10_000 }, { ...LIMITS, initialMaxData: 10_000, initialMaxStreamDataBidiRemote: 5000 });
    const ids = [c.open(true), c.open(true), c.open(true)];
    for (const id of ids) c.write(id, bytes(1000));
    const order = Array.from({ length: 6 }, () => ofType(c.pollFrames(300), 'stream').map((f) => f.streamId));
    expect(order).toEqual([[0], [4], [8], [0], [4], [8]]);
  });
});

describe('§4.5 final size', () => {
  it('data beyond a known final size is a FINAL_SIZE_ERROR', () => {
    const s = manager('server');
    s.onFrame(stream(0, 0, bytes(10), true));
    expect(errorOf(() => s.onFrame(stream(0, 10, bytes(1)))).code).toBe(E.FINAL_SIZE_ERROR);
    // Retransmissions within the final size are fine.
    s.onFrame(stream(0, 5, bytes(10).subarray(5), true));
  });

  it('a FIN that changes the final size is a FINAL_SIZE_ERROR', () => {
    const s = manager('server');
    s.onFrame(stream(0, 0, bytes(10), true));
    expect(errorOf(() => s.onFrame(stream(0, 0, bytes(5), true))).code).toBe(E.FINAL_SIZE_ERROR);
  });

  it('a FIN below data already received is a FINAL_SIZE_ERROR', () => {
    const s = manager('server');
    s.onFrame(stream(0, 50, bytes(10)));
    const e = errorOf(() => s.onFrame(stream(0, 0, bytes(20), true)));
    expect(e.code).toBe(E.FINAL_SIZE_ERROR);
    expect(e.frameType).toBe(0x0b);
  });

  it('RESET_STREAM must agree with the final size and cover what was received', () => {
    const s = manager('server');
    s.onFrame(stream(0, 0, bytes(10), true));
    expect(errorOf(() => s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 1, finalSize: 11 })).code).toBe(E.FINAL_SIZE_ERROR);
    s.onFrame(stream(4, 0, bytes(30)));
    const e = errorOf(() => s.onFrame({ type: 'reset_stream', streamId: 4, errorCode: 1, finalSize: 29 }));
    expect(e.code).toBe(E.FINAL_SIZE_ERROR);
    expect(e.frameType).toBe(0x04);
  });
});

describe('§19 STREAM_STATE_ERROR', () => {
  const cases: [string, Frame, number][] = [
    ['STREAM on our own unidirectional stream (§19.8)', stream(3, 0, bytes(1)), 0x0a],
    ['STREAM on a bidirectional stream we have not opened (§19.8)', stream(5, 0, bytes(1)), 0x0a],
    ['RESET_STREAM on our own unidirectional stream (§19.4)', { type: 'reset_stream', streamId: 3, errorCode: 0, finalSize: 0 }, 0x04],
    ['STREAM_DATA_BLOCKED on our own unidirectional stream (§19.13)', { type: 'stream_data_blocked', streamId: 3, limit: 0 }, 0x15],
    ['STOP_SENDING on the peer\'s unidirectional stream (§19.5)', { type: 'stop_sending', streamId: 2, errorCode: 0 }, 0x05],
    ['STOP_SENDING on a stream we have not opened (§19.5)', { type: 'stop_sending', streamId: 5, errorCode: 0 }, 0x05],
    ['MAX_STREAM_DATA on the peer\'s unidirectional stream (§19.10)', { type: 'max_stream_data', streamId: 6, maximum: 1 }, 0x11],
    ['MAX_STREAM_DATA on a stream we have not opened (§19.10)', { type: 'max_stream_data', streamId: 7, maximum: 1 }, 0x11],
  ];
  for (const [name, frame, frameType] of cases) {
    it(name, () => {
      const s = manager('server');
      s.open(true); // stream 1
      s.open(false); // stream 3
      const e = errorOf(() => s.onFrame(frame));
      expect(e.code).toBe(E.STREAM_STATE_ERROR);
      expect(e.frameType).toBe(frameType);
    });
  }

  it('STOP_SENDING and MAX_STREAM_DATA on a peer bidirectional stream open it (§3.2)', () => {
    const s = manager('server');
    s.onFrame({ type: 'max_stream_data', streamId: 4, maximum: 500 });
    expect(events(s)).toEqual([{ type: 'opened', id: 0 }, { type: 'opened', id: 4 }]);
    s.write(4, bytes(400));
    expect(ofType(s.pollFrames(2000), 'stream')[0]?.data.length).toBe(400);
  });
});

describe('§4.1 flow control', () => {
  it('initial credit per stream type follows §18.2: "local" and "remote" are from the advertiser\'s side', () => {
    const client: StreamLimits = { ...LIMITS, initialMaxStreamDataBidiLocal: 10, initialMaxStreamDataBidiRemote: 20, initialMaxStreamDataUni: 30 };
    const server: StreamLimits = { ...LIMITS, initialMaxStreamDataBidiLocal: 40, initialMaxStreamDataBidiRemote: 50, initialMaxStreamDataUni: 60 };
    const { c, s } = pair(client, server);
    const sent = (m: StreamManager, id: number): number => {
      m.write(id, bytes(100));
      return ofType(m.pollFrames(1200), 'stream').reduce((n, f) => n + f.data.length, 0);
    };
    const cb = c.open(true);
    expect([sent(c, cb), sent(c, c.open(false)), sent(s, s.open(true))]).toEqual([50, 60, 20]);
    s.onFrame(stream(cb, 0, bytes(1)));
    expect(sent(s, cb)).toBe(10);
  });

  it('data beyond the stream limit is a FLOW_CONTROL_ERROR', () => {
    const s = manager('server');
    s.onFrame(stream(0, 0, bytes(200)));
    const e = errorOf(() => s.onFrame(stream(0, 200, bytes(1))));
    expect(e.code).toBe(E.FLOW_CONTROL_ERROR);
    expect(errorOf(() => s.onFrame(stream(2, 0, bytes(201)))).code).toBe(E.FLOW_CONTROL_ERROR);
  });

  it('data beyond the connection limit, summed over streams, is a FLOW_CONTROL_ERROR', () => {
    const s = manager('server');
    for (const id of [0, 4, 8, 12]) s.onFrame(stream(id, 0, bytes(200)));
    s.onFrame(stream(2, 0, bytes(200)));
    // Repeats do not count twice (§4.1: the largest offset counts).
    s.onFrame(stream(2, 0, bytes(200)));
    expect(errorOf(() => s.onFrame(stream(6, 0, bytes(1)))).code).toBe(E.FLOW_CONTROL_ERROR);
  });

  it('a RESET_STREAM final size beyond either limit is a FLOW_CONTROL_ERROR (§4.5)', () => {
    const s = manager('server');
    expect(errorOf(() => s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 0, finalSize: 201 })).code).toBe(E.FLOW_CONTROL_ERROR);
    const t = manager('server', { ...LIMITS, initialMaxData: 150 });
    t.onFrame(stream(0, 0, bytes(100)));
    expect(errorOf(() => t.onFrame({ type: 'reset_stream', streamId: 4, errorCode: 0, finalSize: 51 })).code).toBe(E.FLOW_CONTROL_ERROR);
  });

  it('STREAM data ending beyond 2^62-1 is a FRAME_ENCODING_ERROR (§19.8)', () => {
    const s = manager('server');
    expect(errorOf(() => s.onFrame(stream(0, 2 ** 62, bytes(1)))).code).toBe(E.FRAME_ENCODING_ERROR);
  });

  it('the sender stops at the peer\'s stream limit, says STREAM_DATA_BLOCKED once, and resumes on MAX_STREAM_DATA', () => {
    const { c, s } = pair();
    const id = c.open(true);
    c.write(id, bytes(500));
    const first = flush(c, s);
    expect(ofType(first, 'stream').reduce((n, f) => n + f.data.length, 0)).toBe(200);
    expect(ofType(first, 'stream_data_blocked')).toEqual([{ type: 'stream_data_blocked', streamId: id, limit: 200 }]);
    expect(c.hasPendingFrames).toBe(false);
    c.onFrame({ type: 'max_stream_data', streamId: id, maximum: 150 });
    expect(events(c)).toEqual([]);
    c.onFrame({ type: 'max_stream_data', streamId: id, maximum: 350 });
    expect(events(c)).toEqual([{ type: 'writable', id }]);
    expect(ofType(c.pollFrames(1200), 'stream').map((f) => [f.offset, f.data.length])).toEqual([[200, 150]]);
  });

  it('the sender stops at the connection limit and says DATA_BLOCKED', () => {
    const { c, s } = pair(LIMITS, { ...LIMITS, initialMaxData: 300 });
    const a = c.open(true);
    const b = c.open(true);
    c.write(a, bytes(200));
    c.write(b, bytes(200));
    const frames = flush(c, s);
    expect(ofType(frames, 'stream').reduce((n, f) => n + f.data.length, 0)).toBe(300);
    expect(ofType(frames, 'data_blocked')).toEqual([{ type: 'data_blocked', limit: 300 }]);
    c.onFrame({ type: 'max_data', maximum: 400 });
    expect(events(c)).toEqual([{ type: 'writable', id: b }]);
    c.onFrame({ type: 'max_data', maximum: 390 }); // smaller: ignored
    expect(ofType(c.pollFrames(1200), 'stream').reduce((n, f) => n + f.data.length, 0)).toBe(100);
  });

  it('reading half a window queues MAX_STREAM_DATA and MAX_DATA, not before', () => {
    const { c, s } = pair({ ...LIMITS, initialMaxData: 400 }, { ...LIMITS, initialMaxData: 400 });
    const id = c.open(true);
    c.write(id, bytes(200));
    flush(c, s);
    s.read(id, 99);
    expect(s.hasPendingFrames).toBe(false);
    s.read(id, 1);
    expect(s.pollFrames(1200)).toEqual([{ type: 'max_stream_data', streamId: id, maximum: 300 }]);
    s.read(id, 100);
    expect(s.pollFrames(1200)).toEqual([
      { type: 'max_data', maximum: 600 }, { type: 'max_stream_data', streamId: id, maximum: 400 },
    ]);
  });

  describe('receive-window auto-tuning (§4.2 leaves the sizing to the receiver; Chromium, quiche, OpenSSL tune it)', () => {
    const RTT = 10;
    /** A receiver with 200-byte stream and 1000-byte connection windows, growing to `max`, and one stream with data flowing. */
    function tuned(max = { maxStreamWindow: 800, maxConnectionWindow: 4000 }) {
      const c = manager('client');
      const s = new StreamManager('server', LIMITS, max);
      s.setPeerLimits(LIMITS);
      const id = c.open(true);
      /** The peer sends up to its credit, the application reads it all, and the update goes out at `now`. */
      const round = (now: number): Frame[] => {
        c.write(id, bytes(10_000));
        for (const f of c.pollFrames(100_000)) s.onFrame(f);
        readAll(s, id);
        const frames = s.pollFrames(1200, now, RTT);
        for (const f of frames) c.onFrame(f);
        return frames;
      };
      return { id, round };
    }
    const streamMax = (fs: Frame[]): number | undefined => ofType(fs, 'max_stream_data')[0]?.maximum;

    it('a window whose half is read within two RTTs of the last update doubles, up to the ceiling', () => {
      const { round } = tuned();
      // The first update only starts the clock: 200 read, 200 more.
      expect(streamMax(round(0))).toBe(400);
      // Each later one comes 5 ms (half an RTT) after the previous: the window held the sender back.
      expect(streamMax(round(5))).toBe(400 + 400);
      expect(streamMax(round(10))).toBe(800 + 800);
      expect(streamMax(round(15))).toBe(1600 + 800); // the ceiling
      expect(streamMax(round(20))).toBe(2400 + 800);
    });

    it('a reader slower than the window leaves it alone', () => {
      const { round } = tuned();
      expect(streamMax(round(0))).toBe(400);
      // Three RTTs between updates: the application, not the window, set the pace.
      expect(streamMax(round(30))).toBe(600);
      expect(streamMax(round(60))).toBe(800);
    });

    it('the connection window follows, to 1.5 × the largest stream window, and tunes itself', () => {
      const { round } = tuned({ maxStreamWindow: 800, maxConnectionWindow: 1500 });
      const sent: Frame[] = [];
      for (let t = 0; t <= 25; t += 5) sent.push(...round(t));
      // Reading 2000 bytes with 1000 of connection credit needs MAX_DATA; the stream window reached 800,
      // so the connection's may not stay below 1200, and never above its own 1500 ceiling.
      const maxData = ofType(sent, 'max_data').map((f) => f.maximum);
      const consumed = 200 + 200 + 400 + 800 + 800 + 800;
      expect(maxData.at(-1)).toBeGreaterThanOrEqual(consumed - 800 + 1200);
      expect(maxData.at(-1)).toBeLessThanOrEqual(consumed + 1500);
    });

    it('by default a lone stream grows to the connection\'s ceiling, 2 MiB, not half of it; no window passes it', () => {
      // One download over a 10 ms RTT, read as fast as it comes: the sender uses all its credit every 5 ms.
      // A stream ceiling below the connection's capped such a stream at half the credit many streams get.
      const limits = { ...LIMITS, initialMaxData: 1 << 20, initialMaxStreamDataBidiLocal: 256 << 10, initialMaxStreamDataBidiRemote: 256 << 10 };
      const c = manager('client', limits, limits);
      const s = new StreamManager('server', limits); // the default ceilings
      s.setPeerLimits(limits);
      const id = c.open(true);
      const block = new Uint8Array(4 << 20);
      let read = 0;
      const streamWindows: number[] = [];
      const connectionWindows: number[] = [];
      for (let now = 0; now <= 150; now += 5) {
        c.write(id, block);
        for (const f of c.pollFrames(16 << 20)) s.onFrame(f); // beyond its credit the peer cannot go: that would throw
        for (let r = s.read(id, Infinity, true); r; r = s.read(id, Infinity, true)) read += r.data.length;
        const frames = s.pollFrames(1200, now, RTT);
        for (const f of ofType(frames, 'max_stream_data')) streamWindows.push(f.maximum - read);
        for (const f of ofType(frames, 'max_data')) connectionWindows.push(f.maximum - read);
        for (const f of frames) c.onFrame(f);
      }
      expect(Math.max(...streamWindows)).toBe(2 << 20);
      expect(Math.max(...connectionWindows)).toBe(2 << 20);
      expect(streamWindows.filter((w) => w === 2 << 20).length).toBeGreaterThan(10); // it stays there
      expect(read).toBeGreaterThan(30 * (1 << 20) * 0.9);
    });

    it('ceilings at or below the initial windows keep them fixed', () => {
      const { round } = tuned({ maxStreamWindow: 0, maxConnectionWindow: 0 });
      expect(streamMax(round(0))).toBe(400);
      expect(streamMax(round(1))).toBe(600);
      expect(streamMax(round(2))).toBe(800);
    });
  });

  it('no MAX_STREAM_DATA once the final size is known (§3.2 "Size Known")', () => {
    const { c, s } = pair();
    const id = c.open(true);
    c.write(id, bytes(200), true);
    flush(c, s);
    readAll(s, id);
    expect(ofType(s.pollFrames(1200), 'max_stream_data')).toEqual([]);
  });

  it('STREAM_DATA_BLOCKED and DATA_BLOCKED are answered when more credit can be given', () => {
    const { c, s } = pair();
    const id = c.open(true);
    c.write(id, bytes(200));
    flush(c, s);
    s.read(id, 50);
    expect(s.hasPendingFrames).toBe(false);
    s.onFrame({ type: 'stream_data_blocked', streamId: id, limit: 200 });
    s.onFrame({ type: 'data_blocked', limit: 1000 });
    expect(s.pollFrames(1200)).toEqual([
      { type: 'max_data', maximum: 1050 }, { type: 'max_stream_data', streamId: id, maximum: 250 },
    ]);
  });

  it('the receiver never buffers more than the windows it advertised', () => {
    const { c, s } = pair();
    const ids = [c.open(true), c.open(true), c.open(false)];
    for (const id of ids) c.write(id, bytes(5000));
    flush(c, s);
    const buffered = ids.map((id) => readAll(s, id).data.length);
    expect(buffered).toEqual([200, 200, 200]);
  });
});

describe('§3.1, §3.5 reset and stop sending', () => {
  it('RESET_STREAM carries the final size; the peer is told, discards the data and frees the credit', () => {
    const { c, s } = pair({ ...LIMITS, initialMaxData: 300 }, { ...LIMITS, initialMaxData: 300 });
    const id = c.open(true);
    c.write(id, bytes(180));
    flush(c, s);
    c.write(id, bytes(100));
    c.reset(id, 77);
    expect(() => c.write(id, bytes(1))).toThrow(StreamUsageError);
    const frames = flush(c, s);
    expect(frames).toEqual([{ type: 'reset_stream', streamId: id, errorCode: 77, finalSize: 180 }]);
    expect(events(s)).toEqual([{ type: 'opened', id }, { type: 'readable', id }, { type: 'reset', id, errorCode: 77 }]);
    expect(s.read(id)).toBeUndefined();
    // 180 bytes handed back without being read: more than half the 300-byte window.
    expect(ofType(s.pollFrames(1200), 'max_data')).toEqual([{ type: 'max_data', maximum: 480 }]);
  });

  it('STOP_SENDING makes the peer reset with the same code and stop writing (§3.5)', () => {
    const { c, s } = pair();
    const id = c.open(true);
    c.write(id, bytes(100));
    flush(c, s);
    s.stopSending(id, 9);
    expect(s.read(id)).toBeUndefined();
    expect(flush(s, c)).toEqual([{ type: 'stop_sending', streamId: id, errorCode: 9 }]);
    expect(events(c)).toEqual([{ type: 'stopped', id, errorCode: 9 }]);
    expect(() => c.write(id, bytes(1))).toThrow(/STOP_SENDING/);
    expect(flush(c, s)).toEqual([{ type: 'reset_stream', streamId: id, errorCode: 9, finalSize: 100 }]);
    // Both sides' sending parts are over once the peer closes too.
    s.write(id, bytes(3), true);
    flush(s, c);
    expect(readAll(c, id)).toEqual({ data: bytes(3), fin: true });
    expect(s.bufferedAmount(id)).toBe(0);
    expect(() => s.write(id, bytes(1))).toThrow(StreamUsageError);
  });

  it('a RESET_STREAM after every byte arrived is ignored: the data is still read', () => {
    const s = manager('server');
    s.onFrame(stream(0, 0, bytes(10), true));
    s.onFrame({ type: 'reset_stream', streamId: 0, errorCode: 5, finalSize: 10 });
    expect(events(s).map((e) => e.type)).toEqual(['opened', 'readable', 'finished']);
    expect(readAll(s, 0)).toEqual({ data: bytes(10), fin: true });
  });

  it('frames for a closed stream are ignored', () => {
    const { c, s } = pair();
    const id = c.open(false);
    c.write(id, bytes(10), true);
    const sent = flush(c, s);
    readAll(s, id);
    for (const f of sent) s.onFrame(f);
    s.onFrame({ type: 'reset_stream', streamId: id, errorCode: 1, finalSize: 10 });
    expect(events(s).map((e) => e.type)).toEqual(['opened', 'readable', 'finished']);
    expect(s.read(id)).toBeUndefined();
  });
});

describe('API misuse (local errors, not transport errors)', () => {
  it('throws StreamUsageError for the wrong direction, unopened streams and writes after FIN', () => {
    const s = manager('server');
    s.onFrame(stream(2, 0, bytes(1)));
    expect(() => s.write(2, bytes(1))).toThrow(StreamUsageError);
    const own = s.open(false);
    expect(() => s.read(own)).toThrow(StreamUsageError);
    expect(() => s.write(7, bytes(1))).toThrow(/not been opened/);
    expect(() => s.read(6)).toThrow(StreamUsageError);
    s.write(own, bytes(1), true);
    expect(() => s.write(own, bytes(1))).toThrow(/after FIN/);
    expect(() => s.reset(own, -1)).toThrow(StreamUsageError);
  });
});

describe('§13.3 retransmission', () => {
  it('lost STREAM data is sent again before new data, and only what is still unacknowledged', () => {
    const { c } = pair();
    const id = c.open(true);
    c.write(id, bytes(150));
    const [a] = c.pollFrames(60);
    const [b] = c.pollFrames(60);
    if (a?.type !== 'stream' || b?.type !== 'stream') throw new Error('expected STREAM frames');
    c.onLost(a);
    c.onLost(b);
    c.onAcked(b); // b was only late: its bytes need no retransmission
    const again = ofType(c.pollFrames(1200), 'stream');
    expect(again.map((f) => [f.offset, f.data.length])).toEqual([[0, a.data.length], [a.offset + a.data.length + b.data.length, 150 - a.data.length - b.data.length]]);
    expect(again[0]?.data).toEqual(a.data);
  });

  it('a lost FIN is sent again, alone if its data was acknowledged', () => {
    const { c } = pair();
    const id = c.open(false);
    c.write(id, bytes(10), true);
    const [f] = c.pollFrames(1200);
    if (f?.type !== 'stream') throw new Error('expected STREAM');
    c.onLost(f);
    c.onAcked({ ...f, fin: false });
    expect(c.pollFrames(1200)).toEqual([stream(id, 10, new Uint8Array(0), true)]);
  });

  it('nothing of a reset stream is retransmitted; its RESET_STREAM is, until acknowledged', () => {
    const { c } = pair();
    const id = c.open(true);
    c.write(id, bytes(50));
    const [data] = c.pollFrames(1200);
    c.reset(id, 3);
    const [rst] = c.pollFrames(1200);
    if (!data || !rst) throw new Error('expected frames');
    c.onLost(data);
    c.onLost(rst);
    expect(c.pollFrames(1200)).toEqual([rst]);
    c.onAcked(rst);
    c.onLost(rst);
    expect(c.hasPendingFrames).toBe(false);
  });

  it('STOP_SENDING is repeated only while data is still expected', () => {
    const { c, s } = pair();
    const id = c.open(true);
    c.write(id, bytes(10));
    flush(c, s);
    s.stopSending(id, 4);
    const [stop] = s.pollFrames(1200);
    if (!stop) throw new Error('expected STOP_SENDING');
    s.onLost(stop);
    expect(s.pollFrames(1200)).toEqual([stop]);
    s.onFrame({ type: 'reset_stream', streamId: id, errorCode: 4, finalSize: 10 });
    s.onLost(stop);
    expect(s.hasPendingFrames).toBe(false);
  });

  it('a lost MAX_DATA or MAX_STREAM_DATA is re-sent only if no larger one followed', () => {
    const { c, s } = pair();
    const id = c.open(true);
    c.write(id, bytes(200));
    flush(c, s);
    s.read(id, 100);
    const first = s.pollFrames(1200);
    expect(first).toEqual([{ type: 'max_stream_data', streamId: id, maximum: 300 }]);
    for (const f of first) s.onLost(f);
    expect(s.pollFrames(1200)).toEqual(first);
    c.write(id, bytes(100));
    flush(c, s);
    s.read(id, 100);
    const second = s.pollFrames(1200);
    expect(second).toEqual([{ type: 'max_stream_data', streamId: id, maximum: 400 }]);
    for (const f of first) s.onLost(f);
    expect(s.hasPendingFrames).toBe(false);
  });

  it('bytes read equal bytes written on every stream despite loss, reordering and spurious loss (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.integer({ min: 0, max: 35 }),
      fc.array(fc.record({ side: fc.boolean(), pick: fc.nat(), len: fc.integer({ min: 0, max: 900 }), fin: fc.boolean() }), { maxLength: 25 }),
      (seed, lossPercent, writes) => transferHolds(seed, lossPercent, writes),
    ), seeded(40424, { numRuns: 60 }));
  });
});

interface Endpoint {
  readonly m: StreamManager;
  readonly sent: Map<number, Uint8Array[]>;
  readonly finished: Set<number>;
  readonly got: Map<number, Uint8Array[]>;
  readonly finSeen: Set<number>;
  /** Streams this side may write on: its own, and the peer's bidirectional ones it has seen. */
  readonly writable: number[];
  readonly readable: Set<number>;
}

function endpoint(role: 'client' | 'server', local: StreamLimits, peer: StreamLimits): Endpoint {
  const m = new StreamManager(role, local);
  m.setPeerLimits(peer);
  return { m, sent: new Map(), finished: new Set(), got: new Map(), finSeen: new Set(), writable: [], readable: new Set() };
}

/**
 * Two managers back to back over a lossy, reordering network; the
 * application writes random amounts at random times, then finishes every
 * stream; in the end each reader must hold exactly what was written.
 */
function transferHolds(seed: number, lossPercent: number, writes: { side: boolean; pick: number; len: number; fin: boolean }[]): boolean {
  const random = seededRandom(`streams-${seed}`);
  const int = (n: number): number => {
    const b = random(4);
    return (((b[0] ?? 0) << 24 | (b[1] ?? 0) << 16 | (b[2] ?? 0) << 8 | (b[3] ?? 0)) >>> 0) % n;
  };
  const limits: StreamLimits = {
    initialMaxData: 1500, initialMaxStreamDataBidiLocal: 400, initialMaxStreamDataBidiRemote: 300,
    initialMaxStreamDataUni: 500, initialMaxStreamsBidi: 3, initialMaxStreamsUni: 2,
  };
  const a = endpoint('client', limits, limits);
  const b = endpoint('server', limits, limits);
  for (const e of [a, b]) {
    for (let i = 0; i < 2; i++) e.writable.push(e.m.open(true));
    e.writable.push(e.m.open(false));
    for (const id of e.writable) if (id % 4 < 2) e.readable.add(id);
  }
  type Flight = { from: Endpoint; to: Endpoint; frame: Frame };
  const net: Flight[] = [];
  let delivered = 0;
  /** Once set, every stream gets its FIN, including peer streams seen later. */
  let closing = false;

  const send = (from: Endpoint, to: Endpoint, loss: number): void => {
    const budget = int(3) === 0 ? 1200 : 1 + int(1300);
    const pending = from.m.hasPendingFrames;
    const frames = from.m.pollFrames(budget);
    expect(encodeFrames(frames).length).toBeLessThanOrEqual(budget);
    // hasPendingFrames is exact: with room for any frame, it says whether a poll yields one.
    if (budget >= 1200 || !pending) expect(frames.length > 0).toBe(pending);
    for (const frame of frames) {
      if (int(100) < loss) from.m.onLost(frame);
      else net.push({ from, to, frame });
    }
  };
  const deliverOne = (loss: number): void => {
    const [f] = net.splice(int(net.length), 1);
    if (!f) return;
    // Through the real wire format: the receiver sees views into a decoded payload.
    for (const g of decodeFrames(encodeFrames([f.frame]), '1rtt')) f.to.m.onFrame(g);
    delivered++;
    // Mostly acknowledged; sometimes declared lost although it arrived, sometimes then acknowledged too.
    const fate = int(100);
    if (fate < loss / 2) {
      f.from.m.onLost(f.frame);
      if (int(2) === 0) f.from.m.onAcked(f.frame);
    } else {
      f.from.m.onAcked(f.frame);
    }
  };
  const app = (e: Endpoint): void => {
    for (let ev = e.m.pollEvent(); ev; ev = e.m.pollEvent()) {
      if (ev.type === 'opened') {
        e.readable.add(ev.id);
        if (ev.id % 4 < 2) {
          e.writable.push(ev.id);
          if (closing) write(e, ev.id, new Uint8Array(0), true);
        }
      }
      if (ev.type === 'reset' || ev.type === 'stopped') throw new Error(`unexpected ${ev.type}`);
    }
    for (const id of e.readable) {
      for (let r = e.m.read(id, 1 + int(600)); r; r = e.m.read(id, 1 + int(600))) {
        const list = e.got.get(id) ?? [];
        list.push(r.data);
        e.got.set(id, list);
        if (r.fin) e.finSeen.add(id);
      }
    }
  };
  const write = (e: Endpoint, id: number, data: Uint8Array, fin: boolean): void => {
    if (e.finished.has(id)) return;
    e.m.write(id, data, fin);
    const list = e.sent.get(id) ?? [];
    list.push(data);
    e.sent.set(id, list);
    if (fin) e.finished.add(id);
  };
  const churn = (rounds: number, loss: number): void => {
    for (let i = 0; i < rounds; i++) {
      const x = int(4);
      if (x === 0) send(a, b, loss);
      else if (x === 1) send(b, a, loss);
      else deliverOne(loss);
      app(a);
      app(b);
    }
  };

  for (const w of writes) {
    const e = w.side ? a : b;
    const id = e.writable[w.pick % e.writable.length];
    if (id === undefined) continue;
    write(e, id, random(w.len), w.fin && int(4) === 0);
    churn(1 + int(12), lossPercent);
  }
  closing = true;
  for (const e of [a, b]) for (const id of e.writable) write(e, id, new Uint8Array(0), true);
  // Keep the lossy network going a while, then let it settle without loss.
  churn(200, lossPercent);
  for (let i = 0; i < 20_000 && (net.length > 0 || a.m.hasPendingFrames || b.m.hasPendingFrames); i++) churn(1, 0);
  expect(net.length).toBe(0);
  expect(a.m.hasPendingFrames || b.m.hasPendingFrames).toBe(false);
  for (const [from, to] of [[a, b], [b, a]] as const) {
    for (const [id, parts] of from.sent) {
      expect(concat(...(to.got.get(id) ?? [])), `stream ${id}`).toEqual(concat(...parts));
      expect(to.finSeen.has(id), `FIN on stream ${id}`).toBe(true);
    }
    for (const id of from.writable) expect(from.m.bufferedAmount(id)).toBe(0);
  }
  // Every stream ended both ways, was read and acknowledged: nothing is held any more (§3.3).
  expect([a.m.streamCount, b.m.streamCount]).toEqual([0, 0]);
  expect(delivered).toBeGreaterThan(0);
  return true;
}
