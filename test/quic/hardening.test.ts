/**
 * A hostile peer cannot make a QUIC connection do unbounded work or hold
 * unbounded state, and frame-level MUSTs of RFC 9000 are enforced. Each test
 * speaks as the attacker: it builds packets with the keys the attacker has
 * (Initial keys, derived from a DCID it chose; 1-RTT keys, as the peer of an
 * authenticated connection) and asserts a count, a size or a state.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { CryptoRecvStream, MAX_CRYPTO_FRAGMENTS } from '../../src/quic/connection/crypto-stream.js';
import { DEFAULT_MAX_FRAGMENTS, RecvBuffer } from '../../src/quic/connection/recv-buffer.js';
import { MAX_TRACKED_NOT_IN_FLIGHT, Recovery } from '../../src/quic/connection/recovery.js';
import { QuicTransportError, TransportErrorCode } from '../../src/quic/errors.js';
import { encodeFrames } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/types.js';
import { encodeVersionNegotiation, parsePacket } from '../../src/quic/header.js';
import { initialKeys } from '../../src/quic/keys.js';
import { sealPacket } from '../../src/quic/protection.js';
import { encodeRetry } from '../../src/quic/retry.js';
import { QUIC_V1 } from '../../src/quic/versions.js';
import { attackerInitials, established, groups } from '../helpers/quic-attacker.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

afterEach(() => {
  vi.restoreAllMocks();
});

async function serverOptions(seed: string): Promise<QuicServerOptions> {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  return { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['h'] } };
}

describe('CRYPTO reassembly costs O(log n) per frame and is capped (RFC 9000 §7.5, issue 9 B.4)', () => {
  it('1-byte frames at offsets 2, 4, 6, … stop at the fragment cap with CRYPTO_BUFFER_EXCEEDED', () => {
    const s = new CryptoRecvStream(256 * 1024 + 4);
    let refused: unknown;
    let accepted = 0;
    for (let i = 1; i <= 10_000 && !refused; i++) {
      try {
        s.push(2 * i, new Uint8Array([i & 0xff]));
        accepted++;
      } catch (e) {
        refused = e;
      }
      expect(s.fragments).toBeLessThanOrEqual(MAX_CRYPTO_FRAGMENTS);
    }
    expect(accepted).toBe(MAX_CRYPTO_FRAGMENTS);
    expect(refused).toBeInstanceOf(QuicTransportError);
    expect((refused as QuicTransportError).code).toBe(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED);
  });

  it('data that fills a gap or repeats held bytes is never refused, however fragmented', () => {
    const s = new CryptoRecvStream(64 * 1024 + 4);
    for (let i = 1; i <= MAX_CRYPTO_FRAGMENTS; i++) s.push(4 + 2 * i, new Uint8Array([1]));
    // Repeats and gap-filling bytes only merge runs.
    s.push(6, new Uint8Array([1]));
    for (let i = 1; i < 20; i++) s.push(5 + 2 * i, new Uint8Array([1]));
    expect(s.fragments).toBe(MAX_CRYPTO_FRAGMENTS - 19);
  });

  it('overlapping CRYPTO data that differs is a PROTOCOL_VIOLATION (§2.2)', () => {
    const s = new CryptoRecvStream(1024);
    s.push(10, new Uint8Array([1, 2, 3]));
    expect(() => s.push(11, new Uint8Array([9]))).toThrow(expect.objectContaining({ code: TransportErrorCode.PROTOCOL_VIOLATION }));
  });

  it('a server flooded with such frames in spoofable Initials closes after at most the cap', async () => {
    const initial = await attackerInitials('b4-attacker');
    const frames: Frame[] = [];
    // 2000 frames, as in the report; the cap stops them long before.
    for (let i = 1; i <= 2000; i++) frames.push({ type: 'crypto', offset: 2 * i, data: new Uint8Array([i & 0xff]) });
    const datagrams = await Promise.all(groups(frames).map((g) => initial(g)));
    const server = await QuicConnection.accept(await serverOptions('b4'), datagrams[0] as Uint8Array, 0);
    let sent = 1;
    for (const d of datagrams.slice(1)) {
      if (server.error) break;
      await server.handleDatagram(d, 1);
      sent++;
    }
    expect(server.error?.code).toBe(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED);
    expect(sent).toBeLessThan(datagrams.length);
  });
});

describe('in-order CRYPTO bytes are handled in linear time (issue 9 B.11)', () => {
  it('a 32 KiB handshake message in 1-byte CRYPTO frames is copied a bounded number of times per byte', async () => {
    const size = 32 * 1024;
    const initial = await attackerInitials('b11-attacker');
    const bytes = new Uint8Array(size);
    // A ClientHello header declaring the whole message; the rest arrives one byte per frame.
    bytes.set([1, ((size - 4) >> 16) & 0xff, ((size - 4) >> 8) & 0xff, (size - 4) & 0xff]);
    const frames: Frame[] = [];
    // Every byte but the last, so the (bogus) ClientHello is never parsed.
    for (let i = 0; i < size - 1; i++) frames.push({ type: 'crypto', offset: i, data: bytes.subarray(i, i + 1) });
    const datagrams = await Promise.all(groups(frames).map((g) => initial(g)));
    const server = await QuicConnection.accept(await serverOptions('b11'), datagrams[0] as Uint8Array, 0);
    let copied = 0;
    const set = Uint8Array.prototype.set;
    const slice = Uint8Array.prototype.slice;
    vi.spyOn(Uint8Array.prototype, 'set').mockImplementation(function (this: Uint8Array, src: ArrayLike<number>, offset?: number) {
      copied += src.length;
      return set.call(this, src, offset);
    });
    vi.spyOn(Uint8Array.prototype, 'slice').mockImplementation(function (this: Uint8Array, start?: number, end?: number) {
      const out = slice.call(this, start, end);
      copied += out.length;
      return out;
    });
    for (const d of datagrams.slice(1)) await server.handleDatagram(d, 1);
    vi.restoreAllMocks();
    expect(server.error).toBeUndefined();
    // Decryption copies each datagram a few times; reassembly copies each byte a few times. Quadratic would be ~5e8.
    const received = datagrams.reduce((n, d) => n + d.length, 0);
    expect(copied).toBeLessThan(8 * received + 8 * size);
  });
});

describe('stream reassembly bounds its fragments (RFC 9000 §2.2, issue 9 B.4)', () => {
  it('1-byte STREAM pieces at every other offset, arriving backwards, stop at the cap', () => {
    const b = new RecvBuffer(1 << 18);
    const results = new Map<string, number>();
    for (let i = 4 * DEFAULT_MAX_FRAGMENTS; i > 0; i--) {
      const r = b.insert(2 * i, new Uint8Array([1]));
      results.set(r, (results.get(r) ?? 0) + 1);
      expect(b.fragments).toBeLessThanOrEqual(DEFAULT_MAX_FRAGMENTS);
    }
    expect(results.get('ok')).toBe(DEFAULT_MAX_FRAGMENTS);
    expect(results.get('fragmented')).toBe(3 * DEFAULT_MAX_FRAGMENTS);
    // Filling a gap still works at the cap: it merges runs.
    expect(b.insert(2 * 4 * DEFAULT_MAX_FRAGMENTS - 1, new Uint8Array([1]))).toBe('ok');
    expect(b.fragments).toBe(DEFAULT_MAX_FRAGMENTS - 1);
  });

  it('a peer that scatters STREAM data past the cap gets PROTOCOL_VIOLATION', async () => {
    const c = await established('b4-stream', {});
    const frames: Frame[] = [];
    for (let i = 1; i <= DEFAULT_MAX_FRAGMENTS + 1; i++) frames.push({ type: 'stream', streamId: 0, offset: 2 * i, data: new Uint8Array([7]), fin: false, hasLength: true });
    for (const g of groups(frames)) {
      if (c.server.error) break;
      await c.send(g);
    }
    expect(c.server.error?.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });
});

describe('queues a peer fills are bounded (issue 9 B.6, B.7)', () => {
  it('only the latest PATH_CHALLENGE is answered (RFC 9000 §8.2.2), however many arrive', async () => {
    const c = await established('b6');
    for (let i = 0; i < 500; i++) {
      const data = new Uint8Array(8);
      new DataView(data.buffer).setUint32(4, i);
      await c.send([{ type: 'path_challenge', data }, { type: 'path_challenge', data: data.map((x) => x ^ 0xff) }]);
    }
    const responses = (await c.collect()).frames.filter((f) => f.type === 'path_response');
    expect(responses).toHaveLength(1);
    const expected = new Uint8Array(8);
    new DataView(expected.buffer).setUint32(4, 499);
    expect(responses[0]).toEqual({ type: 'path_response', data: expected.map((x) => x ^ 0xff) });
  });

  it('ACK-only packets the peer never acknowledges are not remembered without bound (RFC 9002 §A.1)', async () => {
    const c = await established('b7');
    for (let i = 0; i < 2000; i++) {
      await c.send([{ type: 'ping' }]);
      await c.collect();
    }
    const recovery = (c.server as unknown as { recovery: Recovery }).recovery;
    // A few ack-eliciting packets of the handshake may remain; the ~1000 ACK-only ones may not.
    expect(recovery.trackedPackets('application')).toBeLessThanOrEqual(MAX_TRACKED_NOT_IN_FLIGHT + 4);
  });

  it('Recovery keeps the newest ACK-only packets, so an acknowledgment of them still resolves', () => {
    const r = new Recovery({ maxDatagramSize: 1200, isClient: false });
    const ack: Frame[] = [{ type: 'ack', ackDelay: 0, ranges: [{ smallest: 0, largest: 0 }] }];
    for (let pn = 0; pn < 100_000; pn++) r.onPacketSent({ pn, space: 'application', timeSent: pn, size: 30, ackEliciting: false, inFlight: false, frames: ack });
    expect(r.trackedPackets('application')).toBe(MAX_TRACKED_NOT_IN_FLIGHT);
    const { acked } = r.onAck('application', { type: 'ack', ackDelay: 0, ranges: [{ smallest: 99_990, largest: 99_999 }] }, 100_000, { ackDelayExponent: 3, maxAckDelay: 25 }, true);
    expect(acked.map((p) => p.pn)).toEqual(Array.from({ length: 10 }, (_, i) => 99_990 + i));
  });

  it('received DATAGRAM frames the application does not poll are capped (RFC 9221 §5 lets them drop)', async () => {
    const c = await established('b6-datagram', {}, { maxDatagramFrameSize: 1200 });
    for (let i = 0; i < 100; i++) await c.send(Array.from({ length: 30 }, (): Frame => ({ type: 'datagram', data: new Uint8Array([i]), hasLength: true })));
    expect(c.server.error).toBeUndefined();
    let datagrams = 0;
    for (let e = c.server.poll(); e; e = c.server.poll()) if (e.type === 'datagram') datagrams++;
    expect(datagrams).toBe(1024);
    // Once polled, new ones are delivered again.
    await c.send([{ type: 'datagram', data: new Uint8Array([1]), hasLength: true }]);
    expect(c.server.poll()).toMatchObject({ type: 'datagram' });
  });
});

describe('a client ignores Retry and Version Negotiation packets not meant for it (RFC 9000 §17.2.5.2, §6.2)', () => {
  async function fresh(seed: string) {
    const provider = seededProvider(seed);
    const key = await testKey(provider, 'ed25519');
    const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'h', verifier: pinnedKeyVerifier(key), alpnProtocols: ['h'] } }, 0);
    const first = (await client.pollTransmit(0))?.data;
    // The rest of the first flight (a hybrid key share needs two datagrams).
    while ((await client.pollTransmit(0))?.data);
    const pkt = parsePacket(first as Uint8Array, 0, { shortDcidLength: 8 }).packet;
    const originalDcid = pkt.dcid;
    const retry = (dcid: Uint8Array, scid: Uint8Array): Promise<Uint8Array> =>
      encodeRetry(provider, { version: QUIC_V1, dcid, scid, token: new Uint8Array([1, 2, 3]) }, originalDcid);
    /** The client's answer: a new Initial carrying the token, or nothing. */
    const answer = async (): Promise<Uint8Array | undefined> => {
      const d = (await client.pollTransmit(1))?.data;
      if (!d) return undefined;
      const p = parsePacket(d, 0, { shortDcidLength: 8 }).packet;
      return 'token' in p ? p.token : undefined;
    };
    return { client, originalDcid, retry, answer };
  }

  it('a Retry whose Source Connection ID is the client’s original Destination Connection ID is discarded', async () => {
    const { client, originalDcid, retry, answer } = await fresh('c17-retry-scid');
    await client.handleDatagram(await retry(client.localCid, originalDcid), 1);
    expect(await answer()).toBeUndefined();
    // The same Retry with a fresh SCID is followed, so the test can tell the two apart.
    await client.handleDatagram(await retry(client.localCid, new Uint8Array(8).fill(0x77)), 1);
    expect(await answer()).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('a Retry whose Destination Connection ID is not the client’s Source Connection ID is discarded', async () => {
    const { client, retry, answer } = await fresh('c17-retry-dcid');
    await client.handleDatagram(await retry(new Uint8Array(8).fill(0x11), new Uint8Array(8).fill(0x77)), 1);
    expect(await answer()).toBeUndefined();
  });

  it('a spoofed Version Negotiation whose connection IDs do not echo the client’s is ignored', async () => {
    const { client, originalDcid } = await fresh('c17-vn');
    await client.handleDatagram(encodeVersionNegotiation(new Uint8Array(8).fill(0x42), client.localCid, [0x0a0a0a0a]), 1);
    await client.handleDatagram(encodeVersionNegotiation(originalDcid, new Uint8Array(8).fill(0x42), [0x0a0a0a0a]), 1);
    expect(client.poll()).toBeUndefined();
    expect(client.isClosed).toBe(false);
    // An echoing one ends the attempt (§6.2): the check is what makes the difference.
    await client.handleDatagram(encodeVersionNegotiation(originalDcid, client.localCid, [0x0a0a0a0a]), 1);
    expect(client.poll()).toMatchObject({ type: 'closed', local: false });
  });
});

describe('connection ID frames are checked (RFC 9000 §5.1.1, §5.1.2, §19.15, §19.16)', () => {
  const token = (n: number): Uint8Array => new Uint8Array(16).fill(n);
  const ncid = (seq: number, retirePriorTo: number, fill = seq + 0x30): Frame =>
    ({ type: 'new_connection_id', sequenceNumber: seq, retirePriorTo, connectionId: new Uint8Array(8).fill(fill), statelessResetToken: token(seq) });

  it('NEW_CONNECTION_ID beyond active_connection_id_limit is CONNECTION_ID_LIMIT_ERROR', async () => {
    const c = await established('c17-limit');
    // Our limit is the default 2: sequence 0 from the handshake and sequence 1, which the client issued at once (§5.1.1).
    await c.send([ncid(2, 2)]); // retires sequences 0 and 1: sequence 2 alone
    await c.send([ncid(2, 2)]); // an identical repeat is fine
    expect(c.server.error).toBeUndefined();
    await c.send([ncid(3, 2)]);
    expect(c.server.error).toBeUndefined();
    await c.send([ncid(4, 2)]);
    expect(c.server.error?.code).toBe(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR);
  });

  it('a sequence number reused for a different connection ID is a PROTOCOL_VIOLATION', async () => {
    const c = await established('c17-reuse');
    await c.send([ncid(2, 1)]);
    await c.send([ncid(2, 1, 0x99)]);
    expect(c.server.error?.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('Retire Prior To retires sequence 0: the server moves to the new ID and sends RETIRE_CONNECTION_ID', async () => {
    const c = await established('c17-rpt');
    await c.send([ncid(2, 2), { type: 'ping' }]);
    expect(c.server.error).toBeUndefined();
    const out = await c.collect();
    expect(out.frames).toContainEqual({ type: 'retire_connection_id', sequenceNumber: 0 });
    expect(out.frames).toContainEqual({ type: 'retire_connection_id', sequenceNumber: 1 });
    expect(out.dcids.every((d) => d.every((b) => b === 0x32))).toBe(true);
  });

  it('retirements the peer never acknowledges are bounded: past twice the limit, CONNECTION_ID_LIMIT_ERROR', async () => {
    const c = await established('c17-retire-flood');
    await c.send([ncid(100, 100)]);
    let n = 0;
    // Each ID below Retire Prior To must be retired at once (§19.15): one RETIRE_CONNECTION_ID owed per frame.
    for (let seq = 1; seq < 50 && !c.server.error; seq++, n++) await c.send([ncid(seq, 0)]);
    expect(c.server.error?.code).toBe(TransportErrorCode.CONNECTION_ID_LIMIT_ERROR);
    expect(n).toBeLessThanOrEqual(4);
  });

  it('RETIRE_CONNECTION_ID of a sequence number never issued is a PROTOCOL_VIOLATION', async () => {
    const c = await established('c17-rcid');
    await c.send([{ type: 'retire_connection_id', sequenceNumber: 5 }]);
    expect(c.server.error?.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('RETIRE_CONNECTION_ID of the ID the packet was sent to is a PROTOCOL_VIOLATION', async () => {
    const c = await established('c17-rcid0');
    await c.send([{ type: 'retire_connection_id', sequenceNumber: 0 }]);
    expect(c.server.error?.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });

  it('NEW_TOKEN from a client is a PROTOCOL_VIOLATION (§19.7)', async () => {
    const c = await established('c17-newtoken');
    await c.send([{ type: 'new_token', token: new Uint8Array([1]) }]);
    expect(c.server.error?.code).toBe(TransportErrorCode.PROTOCOL_VIOLATION);
  });
});

describe('a forged Initial cannot make a connection allocate its whole CRYPTO buffer (RFC 9000 §7.5)', () => {
  it('Initial CRYPTO data may reach only INITIAL_OUT_OF_ORDER bytes past what arrived in order', async () => {
    const { PacketSpace, INITIAL_OUT_OF_ORDER } = await import('../../src/quic/connection/space.js');
    const initial = new PacketSpace('initial').cryptoRecv;
    initial.push(INITIAL_OUT_OF_ORDER - 1, new Uint8Array([1]));
    expect(initial.capacity).toBeLessThanOrEqual(INITIAL_OUT_OF_ORDER);
    expect(() => initial.push(200_000, new Uint8Array([1]))).toThrow(expect.objectContaining({ code: TransportErrorCode.CRYPTO_BUFFER_EXCEEDED }));
    expect(initial.capacity).toBeLessThanOrEqual(INITIAL_OUT_OF_ORDER);
    // A Handshake flight whose first packets were lost may still arrive far ahead.
    const handshake = new PacketSpace('handshake').cryptoRecv;
    expect(() => handshake.push(200_000, new Uint8Array([1]))).not.toThrow();
  });

  it('a server given one CRYPTO byte far ahead in its first Initial closes with CRYPTO_BUFFER_EXCEEDED', async () => {
    const initial = await attackerInitials('far-attacker');
    const server = await QuicConnection.accept(await serverOptions('far'), await initial([{ type: 'crypto', offset: 250_000, data: new Uint8Array([1]) }]), 0);
    expect(server.error?.code).toBe(TransportErrorCode.CRYPTO_BUFFER_EXCEEDED);
  });
});

describe('a client holds the server to its first Source Connection ID (RFC 9000 §7.2)', () => {
  it('a later long-header packet with another Source Connection ID is discarded', async () => {
    const provider = seededProvider('c17-scid');
    const key = await testKey(provider, 'ed25519');
    const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'h', verifier: pinnedKeyVerifier(key), alpnProtocols: ['h'] } }, 0);
    const first = (await client.pollTransmit(0))?.data;
    while ((await client.pollTransmit(0))?.data);
    const originalDcid = parsePacket(first as Uint8Array, 0, { shortDcidLength: 8 }).packet.dcid;
    // An on-path attacker knows the Initial keys too (RFC 9001 §5.2).
    const keys = await initialKeys(provider, QUIC_V1, originalDcid);
    const serverInitial = (scid: Uint8Array, pn: number, frames: Frame[]) =>
      sealPacket(keys.server, { type: 'initial', version: QUIC_V1, dcid: client.localCid, scid }, encodeFrames(frames), { packetNumber: pn });
    await client.handleDatagram(await serverInitial(new Uint8Array(8).fill(0xaa), 0, [{ type: 'ping' }, { type: 'padding', length: 20 }]), 1);
    const close: Frame = { type: 'connection_close', application: false, errorCode: 0x0a, frameType: 0, reason: new Uint8Array(0) };
    await client.handleDatagram(await serverInitial(new Uint8Array(8).fill(0xbb), 1, [close]), 2);
    expect(client.poll()).toBeUndefined();
    // The same frame under the first SCID is processed: the check is what makes the difference.
    await client.handleDatagram(await serverInitial(new Uint8Array(8).fill(0xaa), 2, [close]), 3);
    expect(client.poll()).toMatchObject({ type: 'closed', local: false, code: 0x0a });
  });
});

describe('PeerConnectionIds (RFC 9000 §5.1)', () => {
  const frame = (seq: number, retirePriorTo: number): Extract<Frame, { type: 'new_connection_id' }> =>
    ({ type: 'new_connection_id', sequenceNumber: seq, retirePriorTo, connectionId: new Uint8Array(4).fill(seq + 1), statelessResetToken: new Uint8Array(16).fill(seq) });

  it('NEW_CONNECTION_ID to an endpoint that uses a zero-length connection ID is a PROTOCOL_VIOLATION (§19.15)', async () => {
    const { PeerConnectionIds } = await import('../../src/quic/connection/connection-ids.js');
    const ids = new PeerConnectionIds(new Uint8Array(0), 2);
    expect(() => ids.onNewConnectionId(frame(1, 0))).toThrow(expect.objectContaining({ code: TransportErrorCode.PROTOCOL_VIOLATION }));
  });

  it('retired IDs are replaced by the lowest active one, and each retirement is sent until acknowledged (§5.1.2)', async () => {
    const { PeerConnectionIds } = await import('../../src/quic/connection/connection-ids.js');
    const ids = new PeerConnectionIds(new Uint8Array([9]), 3);
    ids.onNewConnectionId(frame(1, 0));
    ids.onNewConnectionId(frame(2, 0));
    ids.onNewConnectionId(frame(3, 2));
    expect(ids.current).toEqual(new Uint8Array(4).fill(3));
    expect(ids.activeCount).toBe(2);
    const sent = [ids.pollRetire(), ids.pollRetire(), ids.pollRetire()];
    expect(sent).toEqual([{ type: 'retire_connection_id', sequenceNumber: 0 }, { type: 'retire_connection_id', sequenceNumber: 1 }, undefined]);
    ids.onRetireLost(1);
    ids.onRetireAcked(0);
    expect(ids.pollRetire()).toEqual({ type: 'retire_connection_id', sequenceNumber: 1 });
    ids.onRetireAcked(1);
    expect(ids.retiring).toBe(0);
  });

  it('the reset tokens recognised are those of the IDs held, asked again after every change (§10.3.1)', async () => {
    const { PeerConnectionIds } = await import('../../src/quic/connection/connection-ids.js');
    const ids = new PeerConnectionIds(new Uint8Array([9]), 4);
    const token = (seq: number) => new Uint8Array(16).fill(seq);
    expect(ids.resetTokens()).toEqual([]);
    ids.onNewConnectionId(frame(1, 0));
    const once = ids.resetTokens();
    expect(once).toEqual([token(1)]);
    // Asked after every datagram: the same list while nothing changed.
    expect(ids.resetTokens()).toBe(once);
    ids.onNewConnectionId(frame(2, 0));
    expect(ids.resetTokens()).toEqual([token(1), token(2)]);
    ids.onNewConnectionId(frame(3, 2)); // retires 0 and 1
    expect(ids.resetTokens()).toEqual([token(2), token(3)]);
    ids.switchTo(3); // retires 2
    expect(ids.resetTokens()).toEqual([token(3)]);
    ids.addPreferred(new Uint8Array(4).fill(7), token(7)); // sequence 1 is below Retire Prior To: not added
    expect(ids.resetTokens()).toEqual([token(3)]);
  });
});
