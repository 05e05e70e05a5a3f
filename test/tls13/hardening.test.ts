/**
 * Attacker rule (RFC 8446 §6: "Errors ... MUST be signalled with a fatal alert"):
 * whatever a peer sends, `receive()` resolves; a bad peer gets an alert and an
 * `error` event on that one connection, and every kind of free per-connection
 * work a peer can ask for is bounded.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { concat } from '../../src/bytes.js';
import { AlertDescription, ConfigError } from '../../src/errors.js';
import type { CertificateVerifier } from '../../src/tls13/config.js';
import { ContentType, ExtensionType, HRR_RANDOM, TLS13 } from '../../src/tls13/constants.js';
import { TlsConnection, type ConnectionLimits, type TlsEvent } from '../../src/tls13/connection.js';
import { encodeCookie, encodeSupportedVersionsServer } from '../../src/tls13/messages/extensions.js';
import { HandshakeReassembler } from '../../src/tls13/messages/handshake.js';
import { encodeServerHello } from '../../src/tls13/messages/hello.js';
import { encodeNewSessionTicket } from '../../src/tls13/messages/psk.js';
import { encodeRecord, encodeRecords, fragment } from '../../src/tls13/record-layer.js';
import { MemorySessionStore } from '../../src/tls13/session.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { clock, connectPair, drain, pinnedKeyVerifier, pump, seededProvider, testKey, type TestKey } from '../helpers/tls-pair.js';
import { ATTACK_SUITE as SUITE, connectedWithPeerKeys, keyed } from '../helpers/tls-attacker.js';


/** receive() must resolve, never reject: `expect(...).resolves` fails on a rejection. */
async function feed(c: TlsConnection, bytes: Uint8Array): Promise<void> {
  await expect(c.receive(bytes)).resolves.toBeUndefined();
}

function errorEvent(events: readonly TlsEvent[]): Extract<TlsEvent, { type: 'error' }> | undefined {
  return events.find((e): e is Extract<TlsEvent, { type: 'error' }> => e.type === 'error');
}

describe('A: peer-sized encodings end the connection with an alert, never a rejection of receive()', () => {
  it('A.1 a HelloRetryRequest whose cookie cannot fit in ClientHello2 → illegal_parameter (RFC 8446 §4.2.2, §4.1.4)', async () => {
    const { provider, key } = await keyed('hrr-cookie');
    const client = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key), cipherSuites: [SUITE], middleboxCompat: false });
    client.takeOutput();
    // cookie<1..2^16-1>: 65,000 bytes is a valid cookie, but the ClientHello it must be echoed in cannot carry it.
    const hrr = encodeServerHello({
      random: HRR_RANDOM, legacySessionIdEcho: new Uint8Array(0), cipherSuite: SUITE,
      extensions: [
        { type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13) },
        { type: ExtensionType.cookie, data: encodeCookie(new Uint8Array(65000).fill(0xc0)) },
      ],
    });
    await feed(client, concat(...encodeRecords(ContentType.handshake, hrr)));
    expect(client.error?.alert).toBe(AlertDescription.illegal_parameter);
    expect(errorEvent(drain(client))?.error.alert).toBe(AlertDescription.illegal_parameter);
    // The alert went out in the clear: 15 03 03 00 02 02 2f.
    expect(Array.from(client.takeOutput())).toEqual([21, 3, 3, 0, 2, 2, 47]);
  });

  describe('A.2 tickets never embed the client chain: a 67 KB mTLS chain still gets tickets (RFC 8446 §4.6.1)', () => {
    /** Accepts a chain whose leaf is the pinned key, whatever follows it (a real verifier would ignore unused extras too). */
    const leafVerifier = (key: TestKey): CertificateVerifier => ({
      async verify(chain) {
        if (chain[0]?.length !== key.publicKey.length || !chain[0].every((b, i) => b === key.publicKey[i])) throw new Error('leaf mismatch');
        return { publicKey: key.publicKey, keyAlgorithm: key.keyAlgorithm };
      },
    });

    it('leaf + 5 large junk certificates: the handshake completes, tickets carry only the leaf, and resumption reports it', async () => {
      const { provider, key } = await keyed('mtls-tickets');
      const ring = await TicketKeyRing.create(provider);
      const store = new MemorySessionStore();
      const junk = Array.from({ length: 5 }, (_, i) => new Uint8Array(13_400).fill(i + 1));
      const chain = [key.publicKey, ...junk];
      expect(chain.reduce((n, c) => n + c.length, 0)).toBeGreaterThan(65_535);
      const serverOpts = { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, clientAuth: { verifier: leafVerifier(key), required: true }, tickets: { sealer: ring } };
      const clientOpts = { provider, now: clock, serverName: 'example.test', verifier: pinnedKeyVerifier(key), sessionStore: store, certificate: { chain, ...key } };
      const first = { server: TlsConnection.server(serverOpts), client: await TlsConnection.client(clientOpts) };
      await pump(first.client, first.server);
      expect(first.server.error).toBeUndefined();
      expect(first.server.handshakeInfo?.peerCertificates.length).toBe(6);
      expect(drain(first.client).filter((e) => e.type === 'ticket').length).toBe(2);

      const second = { server: TlsConnection.server(serverOpts), client: await TlsConnection.client(clientOpts) };
      await pump(second.client, second.server);
      expect(second.server.handshakeInfo?.resumed).toBe(true);
      expect(second.server.handshakeInfo?.peerCertificates).toEqual([key.publicKey]);
    });

    it('a leaf too large for any ticket: no tickets, and the connection carries on', async () => {
      const { provider, key } = await keyed('mtls-big-leaf');
      const bigLeaf = new Uint8Array(70_000).fill(9);
      const verifier: CertificateVerifier = { verify: async () => ({ publicKey: key.publicKey, keyAlgorithm: key.keyAlgorithm }) };
      const { client, server } = await connectPair(
        { provider, verifier: pinnedKeyVerifier(key), sessionStore: new MemorySessionStore(), certificate: { chain: [bigLeaf], ...key } },
        { provider, certificate: { chain: [key.publicKey], ...key }, clientAuth: { verifier, required: true }, tickets: { sealer: await TicketKeyRing.create(provider) } },
      );
      expect(server.error).toBeUndefined();
      expect(server.handshakeInfo).toBeDefined();
      expect(drain(client).some((e) => e.type === 'ticket')).toBe(false);
      await client.write(new Uint8Array([1, 2, 3]));
      await pump(client, server);
      expect(drain(server).some((e) => e.type === 'data')).toBe(true);
    });
  });

  it('a stored ticket too large to offer beside our key shares is not offered: TlsConnection.client() resolves and handshakes in full', async () => {
    const store = new MemorySessionStore();
    const { provider, key, client, asServer } = await connectedWithPeerKeys('huge-ticket', {}, { sessionStore: store, serverName: 'example.test' });
    // ticket<1..2^16-1>: the largest ticket a server may send (RFC 8446 §4.6.1).
    const nst = encodeNewSessionTicket({ lifetime: 3600, ageAdd: 1, nonce: new Uint8Array([0]), ticket: new Uint8Array(65_535).fill(5), extensions: [] });
    for (const part of fragment(nst)) await feed(client, await asServer.seal(ContentType.handshake, part));
    expect(client.error).toBeUndefined();
    expect(drain(client).some((e) => e.type === 'ticket')).toBe(true);

    const server = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
    const again = await TlsConnection.client({ provider, now: clock, serverName: 'example.test', verifier: pinnedKeyVerifier(key), sessionStore: store });
    await pump(again, server);
    expect(again.handshakeInfo?.resumed).toBe(false);
    expect(server.handshakeInfo).toBeDefined();
  });

  describe('A.3 limits.maxBufferedBytes', () => {
    /** Three plaintext handshake records cut so that a partial record is held when the next slice arrives. */
    function threeRecords(): Uint8Array {
      const body = new Uint8Array(40_000);
      const msg = concat(new Uint8Array([1, 0, 40_000 >> 8, 40_000 & 0xff]), body);
      return concat(
        encodeRecord(ContentType.handshake, msg.subarray(0, 300)),
        encodeRecord(ContentType.handshake, msg.subarray(300, 300 + 16_384)),
        encodeRecord(ContentType.handshake, msg.subarray(16_684, 16_684 + 16_384)),
      );
    }

    for (const maxBufferedBytes of [16_645, 20_000, 32_000]) {
      it(`${maxBufferedBytes}: records that leave a partial record buffered are still read`, async () => {
        const { provider, key } = await keyed('buffered');
        const s = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, { maxBufferedBytes });
        await feed(s, threeRecords());
        expect(s.error).toBeUndefined();
        expect(s.isHandshaking).toBe(true);
      });
    }

    it('the smallest limit (one full protected record) still carries a handshake and 1 MiB in one receive()', async () => {
      const { provider, key } = await keyed('buffered-min');
      const limits = { maxBufferedBytes: 5 + (1 << 14) + 256 };
      const server = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, limits);
      const client = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key) }, limits);
      await pump(client, server);
      const big = new Uint8Array(1 << 20).map((_, i) => i);
      await client.write(big);
      await feed(server, client.takeOutput());
      expect(drain(server).reduce((n, e) => n + (e.type === 'data' ? e.data.length : 0), 0)).toBe(big.length);
    });

    it('a limit below one full record is refused at construction', async () => {
      const { provider, key } = await keyed('buffered-bad');
      expect(() => TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, { maxBufferedBytes: 16_644 })).toThrow(ConfigError);
      await expect(TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key) }, { maxBufferedBytes: 1.5e4 })).rejects.toThrow(ConfigError);
    });
  });

  it('a ConfigError thrown by an application callback while receiving (here a verifier) is an alert, not a rejection', async () => {
    const { provider, key } = await keyed('callback');
    const other = await testKey(provider, 'ed25519');
    const server = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
    // pinnedKeyVerifier throws ConfigError on a mismatch.
    const client = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(other) });
    await feed(server, client.takeOutput());
    await feed(client, server.takeOutput());
    expect(client.error).toBeInstanceOf(ConfigError);
    expect(errorEvent(drain(client))).toBeDefined();
  });

  it('property: random and corrupted peer input never makes receive() reject, and every failure is reported as an error event', async () => {
    // Real flights to corrupt: the client's ClientHello and the server's first flight.
    const { provider: p0, key } = await keyed('fuzz-flights');
    const base = TlsConnection.server({ provider: p0, now: clock, certificate: { chain: [key.publicKey], ...key } });
    const newClient = async (): Promise<TlsConnection> => TlsConnection.client({ provider: seededProvider('fuzz-client'), now: clock, verifier: pinnedKeyVerifier(key) });
    const c0 = await newClient();
    const clientHello = c0.takeOutput();
    await base.receive(clientHello);
    const serverFlight = base.takeOutput();
    await c0.receive(serverFlight);
    expect(c0.handshakeInfo).toBeDefined();

    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
      fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 0xffff }) }),
    );
    type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;
    const apply = (b: Uint8Array, ms: readonly Mutation[]): Uint8Array => {
      let out: Uint8Array = b.slice();
      for (const m of ms) {
        const at = out.length ? m.at % out.length : 0;
        if (m.kind === 'flip' && out.length) out[at] = (out[at] as number) ^ m.xor;
        if (m.kind === 'cut') out = out.slice(0, at);
        if (m.kind === 'insert') out = concat(out.subarray(0, at), m.bytes, out.subarray(at));
        if (m.kind === 'length' && out.length > at + 1) {
          out[at] = m.value >> 8;
          out[at + 1] = m.value & 0xff;
        }
      }
      return out;
    };
    const input = fc.oneof(
      fc.record({ to: fc.constant('server' as const), bytes: fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => apply(clientHello, ms)) }),
      fc.record({ to: fc.constant('client' as const), bytes: fc.array(mutation, { minLength: 1, maxLength: 4 }).map((ms) => apply(serverFlight, ms)) }),
      fc.record({ to: fc.constantFrom('server' as const, 'client' as const), bytes: fc.uint8Array({ maxLength: 600 }) }),
    );
    await fc.assert(
      fc.asyncProperty(input, fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 4 }), async ({ to, bytes }, cuts) => {
        let target: TlsConnection;
        if (to === 'server') {
          target = TlsConnection.server({ provider: seededProvider('fuzz-server'), now: clock, certificate: { chain: [key.publicKey], ...key } });
        } else {
          target = await newClient();
          target.takeOutput();
        }
        // Delivered in a few pieces, as a transport might.
        let o = 0;
        for (const n of cuts) {
          await feed(target, bytes.subarray(o, o + n));
          o += n;
        }
        await feed(target, bytes.subarray(o));
        const events = drain(target);
        if (target.error && !events.some((e) => e.type === 'alertReceived')) expect(errorEvent(events)).toBeDefined();
      }),
      seeded(0x9a11, { numRuns: 150 }),
    );
  });
});

describe('property: random protected records after the handshake', () => {
  it('whatever a keyed peer seals (handshake messages, alerts, data, padding), receive() resolves and failures are error events', async () => {
    const handshakeTypes = [1, 2, 4, 5, 8, 11, 13, 15, 20, 24, 254];
    const message = fc.oneof(
      // A framed handshake message of a known type with a random body (the length may lie).
      fc.record({ type: fc.constantFrom(...handshakeTypes), body: fc.uint8Array({ maxLength: 80 }), lie: fc.option(fc.integer({ min: 0, max: 0xffffff }), { nil: undefined }) })
        .map(({ type, body, lie }) => ({ contentType: ContentType.handshake, content: concat(new Uint8Array([type, ...u24(lie ?? body.length)]), body) })),
      fc.record({ contentType: fc.constantFrom(ContentType.handshake, ContentType.alert, ContentType.application_data), content: fc.uint8Array({ maxLength: 60 }) }),
    );
    const records = fc.array(fc.record({ m: message, pad: fc.integer({ min: 0, max: 40 }), toServer: fc.boolean() }), { minLength: 1, maxLength: 12 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(records, async (recs) => {
        const { client, server, asClient, asServer } = await connectedWithPeerKeys(`post-${run++}`);
        for (const { m, pad, toServer } of recs) {
          if (m.content.length === 0 && m.contentType !== ContentType.application_data) continue;
          const sealed = await (toServer ? asClient : asServer).seal(m.contentType, m.content, pad);
          await feed(toServer ? server : client, sealed);
        }
        for (const c of [client, server]) {
          const events = drain(c);
          if (c.error && !events.some((e) => e.type === 'alertReceived')) expect(errorEvent(events)).toBeDefined();
          expect(events.some((e) => e.type === 'data' && e.data.length === 0)).toBe(false);
        }
      }),
      seeded(0x5eed, { numRuns: 40 }),
    );
  });
});

function u24(n: number): number[] {
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

describe('B.10: per-connection work a peer can ask for is bounded (limits, unexpected_message)', () => {
  it('KeyUpdate(update_requested): 32 without application data are answered, the 33rd ends the connection (RFC 8446 §4.6.3)', async () => {
    const { client, server } = await connectedWithPeerKeys('ku-flood');
    for (let i = 0; i < 32; i++) await client.keyUpdate(true);
    await feed(server, client.takeOutput());
    expect(server.error).toBeUndefined();
    await client.keyUpdate(true);
    await feed(server, client.takeOutput());
    expect(server.error?.alert).toBe(AlertDescription.unexpected_message);
    expect(server.error?.message).toMatch(/maxKeyUpdates/);
  });

  it('application data between KeyUpdates restarts the count; limits.maxKeyUpdates sets the bound', async () => {
    const { client, server } = await connectedWithPeerKeys('ku-data', { maxKeyUpdates: 2 });
    for (let i = 0; i < 10; i++) {
      await client.keyUpdate(true);
      await client.keyUpdate(false);
      await client.write(new Uint8Array([i]));
    }
    await feed(server, client.takeOutput());
    expect(server.error).toBeUndefined();
    for (let i = 0; i < 3; i++) await client.keyUpdate(false);
    await feed(server, client.takeOutput());
    expect(server.error?.alert).toBe(AlertDescription.unexpected_message);
  });

  it('empty records: no data events, and the 33rd in a row ends the connection (RFC 8446 §5.4; OpenSSL MAX_EMPTY_RECORDS)', async () => {
    const { server, asClient } = await connectedWithPeerKeys('empty');
    const empty = async (): Promise<Uint8Array> => asClient.seal(ContentType.application_data, new Uint8Array(0));
    for (let i = 0; i < 32; i++) await feed(server, await empty());
    expect(server.error).toBeUndefined();
    expect(drain(server)).toEqual([]);
    // A record with content breaks the run.
    await feed(server, await asClient.seal(ContentType.application_data, new Uint8Array([7])));
    for (let i = 0; i < 32; i++) await feed(server, await empty());
    expect(server.error).toBeUndefined();
    await feed(server, await empty());
    expect(server.error?.alert).toBe(AlertDescription.unexpected_message);
    expect(drain(server).filter((e) => e.type === 'data').map((e) => e.type === 'data' && e.data.length)).toEqual([1]);
  });

  it('NewSessionTicket: 16 without application data are kept, the 17th ends the connection (RFC 8446 §4.6.1)', async () => {
    const store = new MemorySessionStore();
    const { client, asServer } = await connectedWithPeerKeys('nst-flood', {}, { sessionStore: store, serverName: 'example.test' });
    const nst = (i: number): Uint8Array => encodeNewSessionTicket({ lifetime: 3600, ageAdd: i, nonce: new Uint8Array([i]), ticket: new Uint8Array(32).fill(i + 1), extensions: [] });
    for (let i = 0; i < 16; i++) await feed(client, await asServer.seal(ContentType.handshake, nst(i)));
    expect(client.error).toBeUndefined();
    expect(drain(client).filter((e) => e.type === 'ticket').length).toBe(16);
    await feed(client, await asServer.seal(ContentType.handshake, nst(16)));
    expect(client.error?.alert).toBe(AlertDescription.unexpected_message);
    expect(client.error?.message).toMatch(/maxTickets/);
  });

  it('user_canceled warning alerts before the handshake: 4 are tolerated, the 5th ends it (RFC 8446 §6.1; BoringSSL kMaxWarningAlerts)', async () => {
    const { provider, key } = await keyed('warnings');
    const s = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
    const warning = encodeRecord(ContentType.alert, new Uint8Array([1, AlertDescription.user_canceled]));
    await feed(s, concat(warning, warning, warning, warning));
    expect(s.error).toBeUndefined();
    await feed(s, warning);
    expect(s.error?.alert).toBe(AlertDescription.unexpected_message);
  });

  it('change_cipher_spec: 2 are dropped, a 3rd ends the handshake (RFC 8446 Appendix D.4: a peer sends one)', async () => {
    const { provider, key } = await keyed('ccs');
    const s = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
    const c = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key) });
    const ccs = encodeRecord(ContentType.change_cipher_spec, new Uint8Array([1]));
    await feed(s, concat(c.takeOutput(), ccs, ccs));
    expect(s.error).toBeUndefined();
    await feed(s, ccs);
    expect(s.error?.alert).toBe(AlertDescription.unexpected_message);
  });

  it('limits are validated: each count must be a non-negative integer', async () => {
    const { provider, key } = await keyed('limits-bad');
    const make = (limits: ConnectionLimits) => () => TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, limits);
    for (const bad of [{ maxKeyUpdates: -1 }, { maxEmptyRecords: 1.5 }, { maxWarningAlerts: Number.NaN }, { maxTickets: Infinity }, { maxChangeCipherSpecs: -2 }]) {
      expect(make(bad)).toThrow(ConfigError);
    }
    expect(make({ maxKeyUpdates: 0, maxEmptyRecords: 0, maxWarningAlerts: 0, maxTickets: 0, maxChangeCipherSpecs: 0 })).not.toThrow();
  });
});

describe('B.11: handshake reassembly is linear in the bytes received (RFC 8446 §5.1 allows a message over any number of records)', () => {
  /** Bytes copied by Uint8Array.prototype.set while the server reads a ClientHello of `size` bytes sent one byte per record. */
  async function bytesCopied(size: number): Promise<number> {
    const { provider, key } = await keyed('reassembly');
    const s = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
    const body = size - 4;
    // legacy_version 0x0303, then zeros: the body is read whole and only then found malformed.
    const msg = concat(new Uint8Array([1, body >> 16, (body >> 8) & 0xff, body & 0xff, 3, 3]), new Uint8Array(body - 2));
    const wire = new Uint8Array(msg.length * 6);
    for (let i = 0; i < msg.length; i++) wire.set([22, 3, 3, 0, 1, msg[i] as number], i * 6);
    const set = Uint8Array.prototype.set;
    let copied = 0;
    Uint8Array.prototype.set = function (this: Uint8Array, array: ArrayLike<number>, offset?: number) {
      copied += array.length;
      return set.call(this, array, offset);
    } as typeof set;
    try {
      await feed(s, wire);
    } finally {
      Uint8Array.prototype.set = set;
    }
    // The whole message was read: the server complains about its content, not its framing.
    expect(s.error?.alert).toBe(AlertDescription.decode_error);
    return copied;
  }

  it('a ClientHello in 1-byte records: doubling its size about doubles the bytes copied', async () => {
    const small = await bytesCopied(16 * 1024);
    const large = await bytesCopied(32 * 1024);
    // The record reader and the reassembler copy each byte a bounded number of times.
    expect(large).toBeLessThan(small * 2.2);
    expect(large).toBeLessThan(32 * 1024 * 16);
  });

  it('an announced length costs memory only as its bytes arrive (issue 9 B.8: a 10-byte connection must not hold 256 KiB)', () => {
    const r = new HandshakeReassembler(256 * 1024);
    // A ClientHello header announcing 256 KiB - 4, and six bytes of it.
    r.push(new Uint8Array([1, 0x03, 0xff, 0xfc, 3, 3, 0, 0, 0, 0]));
    expect(r.allocated).toBeLessThanOrEqual(4096);
    const chunk = new Uint8Array(1000);
    let sent = 10;
    while (sent + chunk.length <= 100_000) {
      r.push(chunk);
      sent += chunk.length;
      // Doubling: never more than twice what was received (and the 4 KiB start).
      expect(r.allocated).toBeLessThanOrEqual(Math.max(4096, 2 * sent));
    }
    expect(r.next()).toBeUndefined();
  });
});
