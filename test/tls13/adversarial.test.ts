import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AlertDescription, PqtlsError } from '../../src/errors.js';
import { NamedGroup, type CryptoProvider } from '../../src/pq/index.js';
import { CipherSuite } from '../../src/tls13/cipher-suites.js';
import { ContentType, ExtensionType, TLS13 } from '../../src/tls13/constants.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { encodeKeyShareServer, encodeSupportedVersionsServer } from '../../src/tls13/messages/extensions.js';
import { frameHandshake } from '../../src/tls13/messages/handshake.js';
import { encodeServerHello } from '../../src/tls13/messages/hello.js';
import { encodeRecord } from '../../src/tls13/record-layer.js';
import { Reader } from '../../src/codec/reader.js';
import { concat } from '../../src/bytes.js';
import { clock, connectPair, pinnedKeyVerifier, pump, seededProvider, testKey, type TestKey } from '../helpers/tls-pair.js';
import { seeded } from '../helpers/fc.js';

/** Splits a byte stream into TLS records (header + body). */
function records(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; ) {
    const len = ((bytes[o + 3] as number) << 8) | (bytes[o + 4] as number);
    out.push(bytes.slice(o, o + 5 + len));
    o += 5 + len;
  }
  return out;
}

async function setup(seed: string): Promise<{ provider: CryptoProvider; key: TestKey }> {
  const provider = seededProvider(seed);
  return { provider, key: await testKey(provider, 'ed25519') };
}

/** The client's key_share offer for its first group, read out of its ClientHello. */
function clientHelloSessionId(ch: Uint8Array): Uint8Array {
  const r = new Reader(ch.subarray(9));
  r.u16();
  r.bytes(32);
  return r.vec(1).slice();
}

async function clientAgainstForgedServerHello(
  forge: (sessionId: Uint8Array) => Uint8Array,
): Promise<TlsConnection> {
  const { provider, key } = await setup('forged-sh');
  const client = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key), cipherSuites: [CipherSuite.TLS_AES_128_GCM_SHA256] });
  const ch = client.takeOutput();
  await client.receive(encodeRecord(ContentType.handshake, forge(clientHelloSessionId(ch))));
  return client;
}

function serverHello(sessionId: Uint8Array, suite: number, group: number, share: Uint8Array): Uint8Array {
  return encodeServerHello({
    random: new Uint8Array(32).fill(7),
    legacySessionIdEcho: sessionId,
    cipherSuite: suite,
    extensions: [
      { type: ExtensionType.supported_versions, data: encodeSupportedVersionsServer(TLS13) },
      { type: ExtensionType.key_share, data: encodeKeyShareServer({ group, share }) },
    ],
  });
}

describe('a client facing a misbehaving server ends with the right alert (RFC 8446 §4.1.3, §6.2)', () => {
  it('a cipher suite the client never offered → illegal_parameter', async () => {
    const c = await clientAgainstForgedServerHello((sid) => serverHello(sid, CipherSuite.TLS_AES_256_GCM_SHA384, NamedGroup.x25519, new Uint8Array(32).fill(9)));
    expect(c.error?.alert).toBe(AlertDescription.illegal_parameter);
    // The alert went out in the clear (no keys yet): 15 03 03 00 02 02 2f.
    expect(Array.from(c.takeOutput())).toEqual([21, 3, 3, 0, 2, 2, 47]);
  });

  it('a key share for a group the client never offered → illegal_parameter', async () => {
    const c = await clientAgainstForgedServerHello((sid) => serverHello(sid, CipherSuite.TLS_AES_128_GCM_SHA256, NamedGroup.secp384r1, new Uint8Array(97).fill(4)));
    expect(c.error?.alert).toBe(AlertDescription.illegal_parameter);
  });

  it('a wrong legacy_session_id_echo → illegal_parameter', async () => {
    const c = await clientAgainstForgedServerHello(() => serverHello(new Uint8Array(32), CipherSuite.TLS_AES_128_GCM_SHA256, NamedGroup.x25519, new Uint8Array(32).fill(9)));
    expect(c.error?.alert).toBe(AlertDescription.illegal_parameter);
  });

  it('a TLS 1.2 ServerHello carrying the downgrade sentinel → illegal_parameter', async () => {
    const c = await clientAgainstForgedServerHello((sid) => {
      const random = new Uint8Array(32);
      random.set([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01], 24);
      return encodeServerHello({ random, legacySessionIdEcho: sid, cipherSuite: 0xc02f, extensions: [] });
    });
    expect(c.error?.alert).toBe(AlertDescription.illegal_parameter);
  });

  it('a TLS 1.2 ServerHello without sentinel → protocol_version', async () => {
    const c = await clientAgainstForgedServerHello((sid) => encodeServerHello({ random: new Uint8Array(32), legacySessionIdEcho: sid, cipherSuite: 0xc02f, extensions: [] }));
    expect(c.error?.alert).toBe(AlertDescription.protocol_version);
  });

  it('a message other than ServerHello first → unexpected_message', async () => {
    const c = await clientAgainstForgedServerHello(() => frameHandshake(8, new Uint8Array([0, 0])));
    expect(c.error?.alert).toBe(AlertDescription.unexpected_message);
  });

  it('a wrong server Finished → decrypt_error', async () => {
    const { provider, key } = await setup('bad-finished');
    const evil: CryptoProvider = { ...provider, hmac: async (...a) => { const m = await provider.hmac(...a); m[0] = (m[0] as number) ^ 1; return m; } };
    const { client } = await connectPair({ provider, verifier: pinnedKeyVerifier(key) }, { provider: evil, certificate: { chain: [key.publicKey], ...key } });
    expect(client.error?.alert).toBe(AlertDescription.decrypt_error);
  });

  it('a CertificateVerify that does not verify → decrypt_error', async () => {
    const { provider, key } = await setup('bad-cv');
    const evil: CryptoProvider = { ...provider, sign: async (...a) => { const s = await provider.sign(...a); s[5] = (s[5] as number) ^ 0x40; return s; } };
    const { client } = await connectPair({ provider, verifier: pinnedKeyVerifier(key) }, { provider: evil, certificate: { chain: [key.publicKey], ...key } });
    expect(client.error?.alert).toBe(AlertDescription.decrypt_error);
  });
});

describe('tampering with the server flight on the wire', () => {
  async function withServerFlight(mutate: (recs: Uint8Array[]) => Uint8Array[]): Promise<TlsConnection> {
    const { provider, key } = await setup('wire');
    const server = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
    const client = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key) });
    await server.receive(client.takeOutput());
    const recs = mutate(records(server.takeOutput()));
    for (const r of recs) await client.receive(r);
    return client;
  }

  it('a bit flipped in the encrypted flight → bad_record_mac', async () => {
    const c = await withServerFlight((r) => {
      const last = r[r.length - 1] as Uint8Array;
      last[10] = (last[10] as number) ^ 1;
      return r;
    });
    expect(c.error?.alert).toBe(AlertDescription.bad_record_mac);
  });

  it('a duplicated ServerHello (now in plaintext after keys) → unexpected_message', async () => {
    const c = await withServerFlight((r) => [r[0] as Uint8Array, r[0] as Uint8Array, ...r.slice(1)]);
    expect(c.error?.alert).toBe(AlertDescription.unexpected_message);
  });

  it('encrypted records reordered → bad_record_mac (sequence numbers in the nonce, RFC 8446 §5.3)', async () => {
    const { provider, key } = await setup('reorder');
    const { client, server } = await connectPair({ provider, verifier: pinnedKeyVerifier(key) }, { provider, certificate: { chain: [key.publicKey], ...key } });
    await client.write(new Uint8Array([1]));
    await client.write(new Uint8Array([2]));
    const [first, second] = records(client.takeOutput());
    await server.receive(second as Uint8Array);
    await server.receive(first as Uint8Array);
    expect(server.error?.alert).toBe(AlertDescription.bad_record_mac);
  });

  it('a ServerHello truncated and followed by an alert record is reported, not hung', async () => {
    const c = await withServerFlight((r) => {
      const sh = r[0] as Uint8Array;
      const body = sh.subarray(5, 40);
      return [encodeRecord(ContentType.handshake, body), encodeRecord(ContentType.alert, new Uint8Array([2, 40]))];
    });
    expect(c.error?.alert).toBe(AlertDescription.handshake_failure);
    expect(c.poll()).toEqual({ type: 'alertReceived', alert: 40, name: 'handshake_failure' });
  });
});

describe('random handshake message sequences never escape as exceptions', () => {
  const handshakeTypes = [1, 2, 4, 5, 8, 11, 13, 15, 20, 24, 254, 99];
  const message = fc.record({ type: fc.constantFrom(...handshakeTypes), body: fc.uint8Array({ maxLength: 300 }) });
  const recordArb = fc.oneof(
    fc.array(message, { minLength: 1, maxLength: 4 }).map((ms) => encodeRecord(ContentType.handshake, concat(...ms.map((m) => frameHandshake(m.type, m.body))))),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => encodeRecord(ContentType.application_data, b)),
    fc.constant(encodeRecord(ContentType.change_cipher_spec, new Uint8Array([1]))),
    fc.uint8Array({ minLength: 0, maxLength: 50 }),
  );

  it('server role', async () => {
    const { provider, key } = await setup('fuzz-server');
    await fc.assert(
      fc.asyncProperty(fc.array(recordArb, { minLength: 1, maxLength: 5 }), async (recs) => {
        const s = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
        for (const r of recs) await s.receive(r);
        expectCleanState(s);
      }),
      seeded(46789, { numRuns: 150 }),
    );
  });

  it('client role, after its ClientHello', async () => {
    const { provider, key } = await setup('fuzz-client');
    await fc.assert(
      fc.asyncProperty(fc.array(recordArb, { minLength: 1, maxLength: 5 }), async (recs) => {
        const c = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key), keyShareGroups: [NamedGroup.x25519] });
        c.takeOutput();
        for (const r of recs) await c.receive(r);
        expectCleanState(c);
      }),
      seeded(24576, { numRuns: 150 }),
    );
  });

  it('every single-byte corruption of a real handshake ends cleanly on both sides', async () => {
    const { provider, key } = await setup('corrupt');
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (pos, xor, fromClient) => {
        let done = false;
        const { client, server } = await connectPair(
          { provider, verifier: pinnedKeyVerifier(key), keyShareGroups: [NamedGroup.x25519] },
          { provider, certificate: { chain: [key.publicKey], ...key } },
          (isClient, bytes) => {
            if (done || isClient !== fromClient) return bytes;
            done = true;
            const b = bytes.slice();
            const i = pos % b.length;
            b[i] = (b[i] as number) ^ xor;
            return b;
          },
        );
        await pump(client, server);
        expectCleanState(client);
        expectCleanState(server);
      }),
      seeded(2363, { numRuns: 60 }),
    );
  });
});

function expectCleanState(c: TlsConnection): void {
  if (c.error) expect(c.error).toBeInstanceOf(PqtlsError);
  if (c.error) expect(typeof c.error.alert).toBe('number');
}
