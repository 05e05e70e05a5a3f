/**
 * An authenticated but hostile peer sends any frame it likes (RFC 9000 §19, RFC 9221 §4) and the
 * connection never throws out of handleDatagram / pollTransmit / handleTimeout: bad input closes
 * the connection with a precise transport error, never INTERNAL_ERROR (issue 9 rule).
 */
import fc from 'fast-check';
import { AlertDescription } from '../../src/errors.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QuicConnection, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { CryptoSendStream } from '../../src/quic/connection/crypto-stream.js';
import { MAX_STREAM_EVENT_BACKLOG, type StreamManager } from '../../src/quic/connection/streams.js';
import { QuicTransportError, TransportErrorCode } from '../../src/quic/errors.js';
import { encodeFrames } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/types.js';
import { parsePacket } from '../../src/quic/header.js';
import { OneRttKeys } from '../../src/quic/key-update.js';
import { initialKeys } from '../../src/quic/keys.js';
import { sealPacket } from '../../src/quic/protection.js';
import { encodeRetry } from '../../src/quic/retry.js';
import { QUIC_V1 } from '../../src/quic/versions.js';
import { encodeNewSessionTicket } from '../../src/tls13/messages/psk.js';
import { MemorySessionStore, type Session } from '../../src/tls13/session.js';
import { seeded, soakTimeout } from '../helpers/fc.js';
import { attackerInitials, established, groups } from '../helpers/quic-attacker.js';
import { QuicSim } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';
import { frame as anyFrame, varint } from './arbitraries.js';

/** Stream IDs and offsets mostly near the ones in use, so frames reach live stream state. */
const small = (): fc.Arbitrary<number> => fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 24 }) }, { weight: 1, arbitrary: varint() });
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });

/** Stream IDs a well-behaved client may name: its own streams for data, either side's for flow control. */
const clientStream = fc.constantFrom(0, 4, 8, 2, 6);
const anyLiveStream = fc.constantFrom(0, 4, 8, 2, 6, 1, 5, 3, 7);
const offset = fc.integer({ min: 0, max: 4000 });

/** Frames a client could send on a live connection, mostly legal so a run goes deep, with any frame now and then. */
const liveFrame = (): fc.Arbitrary<Frame> => fc.oneof(
  { weight: 1, arbitrary: anyFrame() },
  { weight: 4, arbitrary: fc.record({ streamId: clientStream, offset, data: bytes(64), fin: fc.boolean() }).map((f): Frame => ({ type: 'stream', ...f, hasLength: true })) },
  { weight: 1, arbitrary: fc.record({ streamId: clientStream, errorCode: small(), finalSize: offset }).map((f): Frame => ({ type: 'reset_stream', ...f })) },
  { weight: 1, arbitrary: fc.record({ streamId: anyLiveStream, errorCode: small() }).map((f): Frame => ({ type: 'stop_sending', ...f })) },
  { weight: 1, arbitrary: fc.record({ streamId: anyLiveStream, maximum: varint() }).map((f): Frame => ({ type: 'max_stream_data', ...f })) },
  { weight: 1, arbitrary: fc.record({ streamId: clientStream, limit: offset }).map((f): Frame => ({ type: 'stream_data_blocked', ...f })) },
  { weight: 1, arbitrary: varint().map((maximum): Frame => ({ type: 'max_data', maximum })) },
  { weight: 1, arbitrary: fc.record({ bidirectional: fc.boolean(), maximum: fc.integer({ min: 0, max: 1000 }) }).map((f): Frame => ({ type: 'max_streams', ...f })) },
  { weight: 1, arbitrary: fc.record({ bidirectional: fc.boolean(), limit: fc.integer({ min: 0, max: 100 }) }).map((f): Frame => ({ type: 'streams_blocked', ...f })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 100_000 }).map((limit): Frame => ({ type: 'data_blocked', limit })) },
  { weight: 3, arbitrary: fc.record({ smallest: fc.integer({ min: 0, max: 60 }), len: fc.integer({ min: 0, max: 20 }), ackDelay: small() })
    .map(({ smallest, len, ackDelay }): Frame => ({ type: 'ack', ackDelay, ranges: [{ smallest, largest: smallest + len }] })) },
  { weight: 1, arbitrary: fc.record({ seq: fc.integer({ min: 1, max: 6 }), prior: fc.integer({ min: 0, max: 6 }), connectionId: fc.uint8Array({ minLength: 1, maxLength: 20 }), statelessResetToken: fc.uint8Array({ minLength: 16, maxLength: 16 }) })
    .map(({ seq, prior, ...rest }): Frame => ({ type: 'new_connection_id', sequenceNumber: Math.max(seq, prior), retirePriorTo: Math.min(seq, prior), ...rest })) },
  { weight: 1, arbitrary: fc.constant<Frame>({ type: 'ping' }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((data): Frame => ({ type: 'path_challenge', data })) },
  { weight: 1, arbitrary: bytes(200).map((data): Frame => ({ type: 'datagram', data, hasLength: true })) },
);

/** What the server's application does between packets. */
const appStep = fc.constantFrom('none', 'none', 'open-bidi', 'open-uni', 'write', 'write', 'read', 'reset', 'stop', 'datagram', 'update-keys', 'close', 'time', 'time');

describe('random frames from an authenticated peer (issue 9: never an exception, always a precise error)', () => {
  it('handleDatagram, pollTransmit, handleTimeout and poll never reject; a close carries a transport error other than INTERNAL_ERROR', async () => {
    await fc.assert(fc.asyncProperty(
      fc.string({ minLength: 1, maxLength: 6 }),
      fc.array(fc.tuple(fc.array(liveFrame(), { minLength: 1, maxLength: 6 }), appStep, fc.constantFrom(0, 4, 8, 2, 6, 1, 5, 3, 7)), { minLength: 1, maxLength: 40 }),
      async (seed, steps) => {
        const c = await established(`review-${seed}`, {}, { maxDatagramFrameSize: 1200 });
        const s = c.server;
        let now = c.now;
        for (const [frames, step, n] of steps) {
          // ACKs mostly name packets the server did send, so the run gets past them.
          const sent = (s as unknown as { spaces: { application: { nextPn: number } } }).spaces.application.nextPn;
          await c.send(frames.map((f) => (f.type === 'ack' && f.ranges.length === 1 && (f.ranges[0]?.largest ?? 0) <= 80 && sent > 0
            ? { ...f, ranges: [{ smallest: Math.min(f.ranges[0]?.smallest ?? 0, sent - 1), largest: Math.min(f.ranges[0]?.largest ?? 0, sent - 1) }] }
            : f)));
          now = c.now;
          try {
            if (step === 'open-bidi') s.openStream(true);
            else if (step === 'open-uni') s.openStream(false);
            else if (step === 'write') s.writeStream(n, new Uint8Array(3000), n % 2 === 0);
            else if (step === 'read') s.readStream(n);
            else if (step === 'reset') s.resetStream(n, 7);
            else if (step === 'stop') s.stopSending(n, 7);
            else if (step === 'datagram') s.sendDatagram(new Uint8Array(50));
            else if (step === 'update-keys') await s.updateKeys(now);
            else if (step === 'close') s.close(now, 1, 'bye');
          } catch (e) {
            // The application's misuse (a stream that is not ours, a closed connection) is the app's error, not the peer's.
            expect(e).not.toBeInstanceOf(QuicTransportError);
          }
          if (step === 'time') {
            const t = s.pollTimeout();
            if (t !== undefined) await s.handleTimeout(Math.max(t, now));
          }
          await s.handleTimeout(now);
          // Drained, not decrypted: the server may have updated its keys.
          for (let i = 0; i < 200 && ((await s.pollTransmit(now))?.data); i++);
          for (let e = s.poll(); e; e = s.poll());
        }
        if (s.error) expect(s.error.code).not.toBe(TransportErrorCode.INTERNAL_ERROR);
      },
    ), seeded(90901, { numRuns: 200 }));
  }, soakTimeout(120_000));
});

describe('a server discards client Initials in datagrams under 1200 bytes (RFC 9000 §14.1)', () => {
  it('after the first, a small Initial is dropped unread; the same packet padded to 1200 bytes is processed', async () => {
    const provider = seededProvider('small-initial');
    const key = await testKey(provider, 'ed25519');
    const options: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['h'] } };
    const initial = await attackerInitials('small-initial-attacker');
    const server = await QuicConnection.accept(options, await initial([{ type: 'ping' }]), 0);
    expect(server.poll()).toBeUndefined();
    // The attacker's Initial keys come from its own DCID (RFC 9001 §5.2), so it can seal any Initial.
    const dcid = new Uint8Array(8).fill(0xd1);
    const keys = await initialKeys(provider, QUIC_V1, dcid);
    const close: Frame = { type: 'connection_close', application: false, errorCode: 0x0a, frameType: 0, reason: new Uint8Array(0) };
    const small = await sealPacket(keys.client, { type: 'initial', version: QUIC_V1, dcid, scid: new Uint8Array(8).fill(0x5c), token: new Uint8Array(0) }, encodeFrames([close]), { packetNumber: 50 });
    expect(small.length).toBeLessThan(1200);
    await server.handleDatagram(small, 1);
    expect(server.poll()).toBeUndefined();
    await server.handleDatagram(await initial([close]), 2);
    expect(server.poll()).toMatchObject({ type: 'closed', local: false, code: 0x0a });
  });
});

describe('stream events an application never polls are bounded (issue 9: every queue has a bound)', () => {
  /** Stream events queued in the server, not yet polled. */
  const backlog = (server: QuicConnection): number => (server as unknown as { streams: StreamManager }).streams.eventBacklog;

  it('a peer that opens and resets uni streams without end gets no more stream credit once the backlog is full (RFC 9000 §4.6)', async () => {
    const c = await established('churn');
    let next = 0;
    let limit = 100;
    let sent = 0;
    while (sent < 3 * MAX_STREAM_EVENT_BACKLOG && !c.server.error) {
      const frames: Frame[] = [];
      // Each stream costs the peer a 4-byte RESET_STREAM; each gives the application an `opened` and a `reset` event.
      for (; next < limit && frames.length < 200; next++) frames.push({ type: 'reset_stream', streamId: 4 * next + 2, errorCode: 0, finalSize: 0 });
      if (!frames.length) break;
      for (const g of groups(frames)) await c.send(g);
      sent += frames.length;
      for (const f of (await c.collect()).frames) if (f.type === 'max_streams' && !f.bidirectional) limit = Math.max(limit, f.maximum);
    }
    expect(c.server.error).toBeUndefined();
    expect(backlog(c.server)).toBeLessThanOrEqual(MAX_STREAM_EVENT_BACKLOG + 2 * 100);
    expect(sent).toBeLessThan(MAX_STREAM_EVENT_BACKLOG);
    // Once the application catches up, the withheld credit is handed back and the peer may go on.
    let polled = 0;
    for (let e = c.server.poll(); e; e = c.server.poll()) polled++;
    expect(polled).toBe(2 * sent);
    await c.send([{ type: 'ping' }]);
    const more = (await c.collect()).frames.filter((f) => f.type === 'max_streams' && !f.bidirectional);
    expect(more.length).toBeGreaterThan(0);
  });

  it('credit that trickles in one byte at a time queues one `writable` per stream until it is polled', async () => {
    const c = await established('writable', { initialMaxStreamDataBidiRemote: 10 });
    const id = c.server.openStream(true);
    c.server.writeStream(id, new Uint8Array(100_000));
    await c.collect();
    for (let i = 0; i < 500; i++) {
      await c.send([{ type: 'max_stream_data', streamId: id, maximum: 11 + i }]);
      await c.collect();
    }
    expect(c.server.error).toBeUndefined();
    expect(backlog(c.server)).toBeLessThanOrEqual(2);
  });
});

describe('our CRYPTO flight acknowledged a frame at a time costs linear copying (issue 9 B.11, sending side)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('16 KiB sent in 16-byte frames, acknowledged in order one frame per ACK: bytes copied stay a small multiple of 16 KiB', () => {
    const size = 16 * 1024;
    const s = new CryptoSendStream();
    s.append(new Uint8Array(size));
    const frames: { offset: number; data: Uint8Array }[] = [];
    for (let f = s.next(16); f; f = s.next(16)) frames.push(f);
    let copied = 0;
    const slice = Uint8Array.prototype.slice;
    const set = Uint8Array.prototype.set;
    vi.spyOn(Uint8Array.prototype, 'slice').mockImplementation(function (this: Uint8Array, start?: number, end?: number) {
      const out = slice.call(this, start, end);
      copied += out.length;
      return out;
    });
    vi.spyOn(Uint8Array.prototype, 'set').mockImplementation(function (this: Uint8Array, src: ArrayLike<number>, offset?: number) {
      copied += src.length;
      return set.call(this, src, offset);
    });
    for (const f of frames) s.onAcked(f.offset, f.data.length);
    vi.restoreAllMocks();
    expect(s.hasPending).toBe(false);
    // Quadratic would be size² / 32 ≈ 8.4 million.
    expect(copied).toBeLessThan(4 * size);
  });
});

describe('padded Initial datagrams are exactly 1200 bytes (RFC 9000 §14.1, §14)', () => {
  it('no datagram of a handshake exceeds 1200 bytes, the one coalescing a small Handshake packet included', async () => {
    for (const seed of ['pad-a', 'pad-b', 'pad-c']) {
      const provider = seededProvider(seed);
      const key = await testKey(provider, 'ed25519');
      const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'h', verifier: pinnedKeyVerifier(key), alpnProtocols: ['h'] } }, 1_000_000);
      const sizes: number[] = [];
      const poll = client.pollTransmit.bind(client);
      client.pollTransmit = async (now: number) => {
        const d = await poll(now);
        if (d) sizes.push(d.data.length);
        return d;
      };
      const sim = new QuicSim(client, { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['h'] } }, { seed });
      await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
      // The client's first flight and its Initial ACK coalesced with its Handshake Finished: padded, never over.
      expect(sizes.length).toBeGreaterThanOrEqual(3);
      for (const n of sizes.slice(0, 3)) expect(n).toBe(1200);
    }
  });
});

describe('a client discards a Retry whose token it could never send back (RFC 9000 §17.2.5.2)', () => {
  it('a 1150-byte token leaves no room for the ClientHello in a 1200-byte Initial: that Retry is discarded, a usable one is followed', async () => {
    const provider = seededProvider('big-retry-token');
    const key = await testKey(provider, 'ed25519');
    const client = await QuicConnection.connect({ tls: { provider, now: clock, serverName: 'h', verifier: pinnedKeyVerifier(key), alpnProtocols: ['h'] } }, 0);
    const first = (await client.pollTransmit(0))?.data;
    while ((await client.pollTransmit(0))?.data);
    const originalDcid = parsePacket(first as Uint8Array, 0, { shortDcidLength: 8 }).packet.dcid;
    // The Retry integrity key is public (RFC 9001 §5.8): whoever saw our first Initial can forge one.
    const retry = (token: Uint8Array): Promise<Uint8Array> => encodeRetry(provider, { version: QUIC_V1, dcid: client.localCid, scid: new Uint8Array(8).fill(0x77), token }, originalDcid);
    await client.handleDatagram(await retry(new Uint8Array(1150).fill(1)), 1);
    await client.handleDatagram(await retry(new Uint8Array([1, 2, 3])), 1);
    const d = (await client.pollTransmit(1))?.data;
    expect(d).toBeDefined();
    const p = parsePacket(d as Uint8Array, 0, { shortDcidLength: 8 }).packet;
    expect('token' in p ? p.token : undefined).toEqual(new Uint8Array([1, 2, 3]));
    expect((d as Uint8Array).length).toBe(1200);
  });
});

describe('a QUIC client bounds the NewSessionTickets it keeps between data (RFC 8446 §4.6.1, as TLS limits.maxTickets)', () => {
  it('a server that sends tickets without end: 16 without stream data are kept, the 17th closes with CRYPTO_ERROR(unexpected_message)', async () => {
    let stored = 0;
    const store = new MemorySessionStore();
    const counting = { put: (k: string, s: Session) => (stored++, store.put(k, s)), take: (k: string, now: number) => store.take(k, now) };
    const c = await established('nst-quic', {}, {}, { sessionStore: counting });
    let offset = 0;
    const nst = (i: number): Frame => {
      const data = encodeNewSessionTicket({ lifetime: 3600, ageAdd: i, nonce: new Uint8Array([i & 0xff]), ticket: new Uint8Array(32).fill(1), extensions: [] });
      const f: Frame = { type: 'crypto', offset, data };
      offset += data.length;
      return f;
    };
    for (let i = 0; i < 16; i++) await c.sendToClient([nst(i)]);
    expect(c.client.error).toBeUndefined();
    // Stream data restarts the count.
    await c.sendToClient([{ type: 'stream', streamId: 1, offset: 0, data: new Uint8Array([1]), fin: false, hasLength: true }]);
    for (let i = 0; i < 16; i++) await c.sendToClient([nst(i)]);
    expect(c.client.error).toBeUndefined();
    for (let i = 0; i < 2000 && !c.client.error; i++) await c.sendToClient([nst(i)]);
    expect(c.client.error?.code).toBe(TransportErrorCode.CRYPTO_ERROR + AlertDescription.unexpected_message);
    expect(stored).toBe(32);
  });
});

describe('a peer that updates its keys on every packet (RFC 9001 §6.2)', () => {
  it('a second key update before we acknowledged the first under the new keys is KEY_UPDATE_ERROR; after our ACK it is accepted', async () => {
    const c = await established('ku-churn');
    const keys = await OneRttKeys.create(seededProvider('ku-churn-attacker'), QUIC_V1, c.suite, c.secrets.client, c.secrets.server);
    let pn = 20_000;
    const send = async (): Promise<void> => c.deliver(await keys.seal({ type: '1rtt', dcid: c.server.localCid }, encodeFrames([{ type: 'ping' }, { type: 'padding', length: 20 }]), { packetNumber: pn++ }));
    // An update the server answers (its ACK goes out under the new keys): then the next update is fine.
    await keys.initiateKeyUpdate();
    await send();
    await send();
    for (let i = 0; i < 10 && ((await c.server.pollTransmit(c.now + 100))?.data); i++);
    await keys.initiateKeyUpdate();
    await send();
    expect(c.server.error).toBeUndefined();
    expect(c.server.keyPhase.updates).toBe(2);
    // Another update at once, before any ACK from the server: each would cost a key derivation.
    await keys.initiateKeyUpdate();
    await send();
    expect(c.server.error?.code).toBe(TransportErrorCode.KEY_UPDATE_ERROR);
  });
});
