/**
 * RFC 8448 §3 (Simple 1-RTT Handshake) replayed through the real state machines
 * and record layer, both ways: with the trace's randoms and keys, our client fed
 * the trace's server records, and our server fed the trace's client records,
 * must emit exactly the trace's records.
 *
 * The trace's peers offered things this library does not implement
 * (renegotiation_info, session_ticket, ffdhe groups and SHA-1 schemes in the
 * ClientHello; ffdhe groups in the server's supported_groups), so the client's
 * ClientHello and the server's EncryptedExtensions list are supplied through
 * the trace hooks of `pqtls/testing`; everything else is ours. The server's RSA key has
 * 1024 bits, below what our validator and signer accept, so the client pins it
 * and the server's provider is told to sign with it.
 */
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { NamedGroup, createNobleProvider } from '../../src/pq/index.js';
import { scriptedRandom, withTraceHooks } from '../../src/testing/index.js';
import type { CertificateVerifier } from '../../src/tls13/config.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { decodeCertificate } from '../../src/tls13/messages/certificate.js';
import { decodeClientHello } from '../../src/tls13/messages/hello.js';
import { decodeCertificateVerify, decodeEncryptedExtensions } from '../../src/tls13/messages/certificate.js';
import { ExtensionType } from '../../src/tls13/constants.js';
import { bigIntToBytes, bytesToBigInt, modPow } from '../../src/pq/bigint.js';
import { integer, sequence } from '../../src/codec/der.js';
import { sha256 } from '@noble/hashes/sha2.js';
import rsaKey from '../../test-vectors/rfc8448/server-rsa-key.json' with { type: 'json' };
import { resumed0Rtt as t4, simple1Rtt as t } from '../helpers/rfc8448.js';
import { MemorySessionStore } from '../../src/tls13/session.js';
import { MemoryAntiReplay } from '../../src/tls13/anti-replay.js';
import type { TicketSealer } from '../../src/tls13/tickets.js';
import { encodeTicketState } from '../../src/tls13/tickets.js';
import { decodeNewSessionTicket, decodeOfferedPsks } from '../../src/tls13/messages/psk.js';
import { NOW } from '../helpers/tls-pair.js';
import { clock, drain } from '../helpers/tls-pair.js';

const hex = (s: string): Uint8Array => fromHex(s);
const record = (name: string): Uint8Array => hex((t.records[name] as { record: string }).record);

/** The RSAPublicKey inside the trace's certificate: the BIT STRING after the rsaEncryption AlgorithmIdentifier. */
function traceServerKey(): Uint8Array {
  const cert = decodeCertificate(hex(t.messages.certificate as string).subarray(4)).entries[0]?.certData as Uint8Array;
  const rsaEncryption = '06092a864886f70d0101010500';
  const at = toHex(cert).indexOf(rsaEncryption) / 2 + rsaEncryption.length / 2;
  // 03 81 8d 00: BIT STRING, 141 bytes, no unused bits; then the RSAPublicKey SEQUENCE.
  expect(toHex(cert.subarray(at, at + 4))).toBe('03818d00');
  return cert.slice(at + 4, at + 4 + 0x8c);
}

const pinnedRsa: CertificateVerifier = {
  async verify(chain) {
    if (chain.length !== 1) throw new ConfigError('expected the trace certificate');
    return { publicKey: traceServerKey(), keyAlgorithm: 'rsa' };
  },
};

describe('RFC 8448 §3 through the client state machine', () => {
  it('emits the trace client Finished, application data and close_notify records byte for byte', async () => {
    await replaySection3Client(new MemorySessionStore());
  });
});

/** The §3 client run; the NewSessionTicket it receives lands in `store` for §4. */
async function replaySection3Client(store: MemorySessionStore): Promise<void> {
  {
    const x = t.x25519 as NonNullable<typeof t.x25519>;
    const provider = createNobleProvider({ random: scriptedRandom([hex(t.randoms.client), hex(x.client.privateKey)]) });
    const traceHello = decodeClientHello(hex(t.messages.clientHello as string).subarray(4));
    const client = await TlsConnection.client(withTraceHooks({
      provider, now: clock, serverName: 'server', verifier: pinnedRsa, middleboxCompat: false, sessionStore: store,
      groups: [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1], keyShareGroups: [NamedGroup.x25519],
    }, {
      clientHello: (ours) => {
        // Our own key share must be the trace's: same private key, same public key.
        expect(toHex(encodedShare(ours.extensions))).toContain(x.client.publicKey);
        return traceHello;
      },
    }));
    expect(toHex(client.takeOutput())).toBe(toHex(record('clientHello')));

    await client.receive(record('serverHello'));
    await client.receive(record('serverHandshakeFlight'));
    expect(client.error).toBeUndefined();
    expect(toHex(client.takeOutput())).toBe(toHex(record('clientFinished')));
    const [done] = drain(client);
    expect(done?.type).toBe('handshake');

    await client.receive(record('newSessionTicket'));
    expect(drain(client).map((e) => e.type)).toEqual(['ticket']);

    const appData = hex((t.records.clientApplicationData as { payload: string }).payload);
    await client.write(appData);
    expect(toHex(client.takeOutput())).toBe(toHex(record('clientApplicationData')));

    await client.receive(record('serverApplicationData'));
    const [data] = drain(client);
    expect(data?.type === 'data' && toHex(data.data)).toBe(toHex(appData));

    await client.close();
    expect(toHex(client.takeOutput())).toBe(toHex(record('clientAlert')));
    await client.receive(record('serverAlert'));
    expect(drain(client).map((e) => e.type)).toEqual(['peerClosed']);
    expect(client.isClosed).toBe(true);
    // §7.5: the exporter works off the trace's exporter_master_secret.
    expect((await client.exportKeyingMaterial('EXPORTER', utf8(''), 32)).length).toBe(32);
  }
}

function encodedShare(exts: readonly { type: number; data: Uint8Array }[]): Uint8Array {
  return exts.find((e) => e.type === 51)?.data ?? new Uint8Array(0);
}

/** The trace's RSA key as DER RSAPrivateKey (RFC 8017 A.1.2). */
function traceRsaPrivateKey(): Uint8Array {
  const k = rsaKey;
  return sequence(integer(0), ...[k.modulus, k.publicExponent, k.privateExponent, k.prime1, k.prime2, k.exponent1, k.exponent2, k.coefficient].map((h) => integer(hex(h))));
}

/**
 * The salt inside the trace's RSA-PSS CertificateVerify (RFC 8017 §9.1.2):
 * recovered with the public key so that our signer, drawing it from the
 * scripted random source, produces the same signature.
 */
function traceCertificateVerifySalt(): Uint8Array {
  const cv = decodeCertificateVerify(hex(t.messages.certificateVerify as string).subarray(4));
  const n = bytesToBigInt(hex(rsaKey.modulus));
  const em = bigIntToBytes(modPow(bytesToBigInt(cv.signature), bytesToBigInt(hex(rsaKey.publicExponent)), n), 128);
  const h = em.subarray(128 - 33, 128 - 1);
  const db = em.slice(0, 128 - 33);
  for (let c = 0, o = 0; o < db.length; c++, o += 32) {
    const mask = sha256(new Uint8Array([...h, 0, 0, 0, c]));
    for (let i = 0; i < 32 && o + i < db.length; i++) db[o + i] = (db[o + i] as number) ^ (mask[i] as number);
  }
  return db.slice(db.length - 32);
}

describe('RFC 8448 §3 through the server state machine', () => {
  it('emits the trace ServerHello and encrypted server flight byte for byte, and accepts the client Finished', async () => {
    const x = t.x25519 as NonNullable<typeof t.x25519>;
    // Draw order: the server's x25519 key, ServerHello.random, then the PSS salt, the RSA base-blinding
    // value and the two 64-bit exponent-blinding factors. Blinding does not change an RSA signature, so
    // the trace's CertificateVerify comes out byte for byte; the scripted source keeps RSA on bigint.
    const provider = createNobleProvider({
      minRsaSigningBits: 1024,
      random: scriptedRandom([
        hex(x.server.privateKey), hex(t.randoms.server), traceCertificateVerifySalt(),
        new Uint8Array(136).fill(0x5a), new Uint8Array(8).fill(0xa5), new Uint8Array(8).fill(0x3c),
      ]),
    });
    const key = await provider.importPrivateKey({ algorithm: 'rsa', pkcs1: traceRsaPrivateKey() });
    const certDer = decodeCertificate(hex(t.messages.certificate as string).subarray(4)).entries[0]?.certData as Uint8Array;
    const traceEe = decodeEncryptedExtensions(hex(t.messages.encryptedExtensions as string).subarray(4));
    const server = TlsConnection.server(withTraceHooks({
      provider, now: clock, certificate: { chain: [certDer], privateKey: key.privateKey, keyAlgorithm: 'rsa' },
      groups: [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1],
    }, {
      encryptedExtensions: (ours) => {
        // What we would send (server_name ack, record_size_limit 0x4001) is in the trace's list too.
        for (const e of ours) expect(traceEe.find((f) => f.type === e.type)?.data).toEqual(e.data);
        expect(ours.map((e) => e.type).sort()).toEqual([ExtensionType.server_name, ExtensionType.record_size_limit].sort());
        return traceEe;
      },
    }));
    await server.receive(record('clientHello'));
    expect(server.error).toBeUndefined();
    expect(toHex(server.takeOutput())).toBe(toHex(record('serverHello')) + toHex(record('serverHandshakeFlight')));

    await server.receive(record('clientFinished'));
    expect(drain(server).map((e) => e.type)).toEqual(['handshake']);
    await server.receive(record('clientApplicationData'));
    const [data] = drain(server);
    expect(data?.type === 'data' && toHex(data.data)).toBe((t.records.clientApplicationData as { payload: string }).payload);
  });
});

// RFC 8448 §4: the same client and server resume with the §3 ticket and send 0-RTT data.
const record4 = (name: string): Uint8Array => hex((t4.records[name] as { record: string }).record);
const section3Ticket = decodeNewSessionTicket(hex(t.messages.newSessionTicket as string).subarray(4));
const section4Hello = decodeClientHello(hex(t4.messages.clientHello as string).subarray(4));
/** The client's view of the ticket's age in the trace: obfuscated_ticket_age − ticket_age_add (ms). */
const clientAge = ((decodeOfferedPsks(section4Hello.extensions.at(-1)?.data as Uint8Array).identities[0]?.obfuscatedTicketAge as number) - section3Ticket.ageAdd + 2 ** 32) % 2 ** 32;

describe('RFC 8448 §4 (resumed 0-RTT) through the client state machine', () => {
  it('offers the §3 ticket with the trace binder, sends the trace early data, EndOfEarlyData and Finished byte for byte', async () => {
    const store = new MemorySessionStore();
    await replaySection3Client(store);
    const x = t4.x25519 as NonNullable<typeof t4.x25519>;
    const provider = createNobleProvider({ random: scriptedRandom([hex(t4.randoms.client), hex(x.client.privateKey)]) });
    const earlyData = hex((t4.records.clientEarlyData as { payload: string }).payload);
    const client = await TlsConnection.client(withTraceHooks({
      provider, now: () => NOW + clientAge, serverName: 'server', verifier: pinnedRsa, middleboxCompat: false, sessionStore: store,
      groups: [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1], keyShareGroups: [NamedGroup.x25519], earlyData,
    }, {
      clientHello: (ours) => {
        // Our offer names the §3 ticket with the trace's obfuscated age; the binder is computed below, over the trace's hello.
        const mine = decodeOfferedPsks(ours.extensions.at(-1)?.data as Uint8Array);
        const theirs = decodeOfferedPsks(section4Hello.extensions.at(-1)?.data as Uint8Array);
        expect(mine.identities).toEqual(theirs.identities);
        return { ...section4Hello, extensions: section4Hello.extensions.map((e) => (e.type === ExtensionType.pre_shared_key ? ours.extensions.at(-1) as typeof e : e)) };
      },
    }));
    expect(toHex(client.takeOutput())).toBe(toHex(record4('clientHello')) + toHex(record4('clientEarlyData')));

    await client.receive(record4('serverHello'));
    await client.receive(record4('serverHandshakeFlight'));
    expect(client.error).toBeUndefined();
    expect(toHex(client.takeOutput())).toBe(toHex(record4('endOfEarlyData')) + toHex(record4('clientFinished')));
    expect(client.handshakeInfo?.earlyData).toBe('accepted');
    expect(client.handshakeInfo?.resumed).toBe(true);

    await client.write(hex((t4.records.clientApplicationData as { payload: string }).payload));
    expect(toHex(client.takeOutput())).toBe(toHex(record4('clientApplicationData')));
    await client.receive(record4('serverApplicationData'));
    await client.close();
    expect(toHex(client.takeOutput())).toBe(toHex(record4('clientAlert')));
  });
});

describe('RFC 8448 §4 (resumed 0-RTT) through the server state machine', () => {
  it('accepts the ticket and early data and emits the trace ServerHello and flight byte for byte', async () => {
    // The trace's ticket is opaque to us; this sealer stands for the §3 server that issued it.
    const ticketPsk = hex((t.ticket as { psk: string }).psk);
    const sealer: TicketSealer = {
      seal: async () => { throw new Error('no tickets are issued in §4'); },
      open: async (ticket) => toHex(ticket) === toHex(section3Ticket.ticket)
        ? encodeTicketState({
          suite: 0x1301, psk: ticketPsk, issuedAt: NOW, lifetime: section3Ticket.lifetime, ageAdd: section3Ticket.ageAdd,
          maxEarlyData: 1024, alpn: undefined, serverName: 'server', peerCertificates: [],
        })
        : undefined,
    };
    const x = t4.x25519 as NonNullable<typeof t4.x25519>;
    const provider = createNobleProvider({ minRsaSigningBits: 1024, random: scriptedRandom([hex(x.server.privateKey), hex(t4.randoms.server)]) });
    const key = await provider.importPrivateKey({ algorithm: 'rsa', pkcs1: traceRsaPrivateKey() });
    const certDer = decodeCertificate(hex(t.messages.certificate as string).subarray(4)).entries[0]?.certData as Uint8Array;
    const traceEe = decodeEncryptedExtensions(hex(t4.messages.encryptedExtensions as string).subarray(4));
    const server = TlsConnection.server(withTraceHooks({
      provider, now: () => NOW + clientAge, certificate: { chain: [certDer], privateKey: key.privateKey, keyAlgorithm: 'rsa' },
      groups: [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1],
      tickets: { sealer, count: 0 }, earlyData: { maxSize: 1024, antiReplay: new MemoryAntiReplay() },
    }, {
      encryptedExtensions: (ours) => {
        for (const e of ours) expect(traceEe.find((f) => f.type === e.type)?.data).toEqual(e.data);
        expect(ours.map((e) => e.type)).toContain(ExtensionType.early_data);
        return traceEe;
      },
    }));
    await server.receive(record4('clientHello'));
    expect(server.error).toBeUndefined();
    expect(toHex(server.takeOutput())).toBe(toHex(record4('serverHello')) + toHex(record4('serverHandshakeFlight')));
    await server.receive(record4('clientEarlyData'));
    const [early] = drain(server);
    expect(early?.type === 'earlyData' && toHex(early.data)).toBe((t4.records.clientEarlyData as { payload: string }).payload);
    await server.receive(record4('endOfEarlyData'));
    await server.receive(record4('clientFinished'));
    expect(drain(server).map((e) => e.type)).toEqual(['handshake']);
    expect(server.handshakeInfo?.earlyData).toBe('accepted');
    await server.write(hex((t4.records.serverApplicationData as { payload: string }).payload));
    expect(toHex(server.takeOutput())).toBe(toHex(record4('serverApplicationData')));
  });
});
