import { describe, expect, it } from 'vitest';
import { NamedGroup, SignatureScheme, groupName, type KeyAlgorithm } from '../../src/pq/index.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { CipherSuite } from '../../src/tls13/cipher-suites.js';
import { utf8, fromUtf8 } from '../../src/bytes.js';
import { connectPair, drain, pinnedKeyVerifier, pump, seededProvider, testKey } from '../helpers/tls-pair.js';

// RFC 8446 §2: a full 1-RTT handshake, driven entirely in memory through both state machines.
describe('TLS 1.3 full handshake in memory (RFC 8446 §2)', () => {
  it('negotiates X25519MLKEM768 with an ML-DSA-65 server key by default and carries data both ways', async () => {
    const provider = seededProvider('hs-default');
    const key = await testKey(provider, 'ml-dsa-65');
    const { client, server } = await connectPair(
      { provider, serverName: 'localhost', verifier: pinnedKeyVerifier(key), alpnProtocols: ['h2', 'http/1.1'] },
      { provider, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['http/1.1'] },
    );
    const ci = client.handshakeInfo;
    const si = server.handshakeInfo;
    expect(ci?.group).toBe(NamedGroup.X25519MLKEM768);
    expect(si?.group).toBe(NamedGroup.X25519MLKEM768);
    expect(ci?.peerSignatureScheme).toBe(SignatureScheme.mldsa65);
    expect(ci?.cipherSuite.name).toBe('TLS_AES_128_GCM_SHA256');
    expect(ci?.alpn).toBe('http/1.1');
    expect(si?.serverName).toBe('localhost');
    expect(ci?.helloRetryRequest).toBe(false);

    await client.write(utf8('ping'));
    await server.write(utf8('pong'));
    await pump(client, server);
    const sEvents = drain(server);
    const cEvents = drain(client);
    expect(sEvents.filter((e) => e.type === 'data').map((e) => e.type === 'data' && fromUtf8(e.data))).toEqual(['ping']);
    expect(cEvents.filter((e) => e.type === 'data').map((e) => e.type === 'data' && fromUtf8(e.data))).toEqual(['pong']);

    // §7.5: both ends derive the same exporter values.
    const a = await client.exportKeyingMaterial('EXPORTER-test', utf8('ctx'), 32);
    const b = await server.exportKeyingMaterial('EXPORTER-test', utf8('ctx'), 32);
    expect(a).toEqual(b);
  });

  it('a provider whose HMAC, HKDF and AEAD keying are only promises (a device, SubtleCrypto) handshakes, updates keys and carries data alike', async () => {
    const base = seededProvider('hs-async-aead');
    // A wrapper has no `sync` on the functions it replaces: the key schedule and every record protector go through promises.
    const provider: CryptoProvider = {
      ...base,
      aead: async (...a: Parameters<typeof base.aead>) => base.aead(...a),
      hmac: async (...a: Parameters<typeof base.hmac>) => base.hmac(...a),
      hkdfExtract: async (...a: Parameters<typeof base.hkdfExtract>) => base.hkdfExtract(...a),
      hkdfExpand: async (...a: Parameters<typeof base.hkdfExpand>) => base.hkdfExpand(...a),
    };
    expect(provider.aead.sync ?? provider.hmac.sync ?? provider.hkdfExtract.sync ?? provider.hkdfExpand.sync).toBeUndefined();
    const key = await testKey(base, 'ed25519');
    const { client, server } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(key) },
      { provider, certificate: { chain: [key.publicKey], ...key } },
    );
    await client.keyUpdate(true);
    await client.write(utf8('ping'));
    await pump(client, server);
    await server.write(utf8('pong'));
    await pump(client, server);
    expect(drain(server).filter((e) => e.type === 'data').map((e) => e.type === 'data' && fromUtf8(e.data))).toEqual(['ping']);
    expect(drain(client).filter((e) => e.type === 'data').map((e) => e.type === 'data' && fromUtf8(e.data))).toEqual(['pong']);
  });

  const groups = [
    NamedGroup.X25519MLKEM768, NamedGroup.SecP256r1MLKEM768, NamedGroup.SecP384r1MLKEM1024, NamedGroup.MLKEM512,
    NamedGroup.MLKEM768, NamedGroup.MLKEM1024, NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1,
  ];
  const suites = [CipherSuite.TLS_AES_128_GCM_SHA256, CipherSuite.TLS_AES_256_GCM_SHA384, CipherSuite.TLS_CHACHA20_POLY1305_SHA256];
  for (const g of groups) {
    for (const suite of suites) {
      it(`group ${groupName(g)} × suite 0x${suite.toString(16)}`, async () => {
        const provider = seededProvider(`g${g}s${suite}`);
        const key = await testKey(provider, 'ed25519');
        const { client, server } = await connectPair(
          { provider, verifier: pinnedKeyVerifier(key), groups: [g], keyShareGroups: [g], cipherSuites: [suite] },
          { provider, certificate: { chain: [key.publicKey], ...key }, cipherSuites: [suite] },
        );
        expect(client.handshakeInfo?.group).toBe(g);
        expect(server.handshakeInfo?.cipherSuite.id).toBe(suite);
      });
    }
  }

  const keys: [KeyAlgorithm, number][] = [
    ['ml-dsa-44', SignatureScheme.mldsa44], ['ml-dsa-65', SignatureScheme.mldsa65], ['ml-dsa-87', SignatureScheme.mldsa87],
    ['ed25519', SignatureScheme.ed25519], ['ecdsa-p256', SignatureScheme.ecdsa_secp256r1_sha256],
    ['ecdsa-p384', SignatureScheme.ecdsa_secp384r1_sha384],
  ];
  for (const [alg, scheme] of keys) {
    it(`server key ${alg} signs CertificateVerify with ${scheme.toString(16)}`, async () => {
      const provider = seededProvider(`k${alg}`);
      const key = await testKey(provider, alg);
      const { client } = await connectPair(
        { provider, verifier: pinnedKeyVerifier(key) },
        { provider, certificate: { chain: [key.publicKey], ...key } },
      );
      expect(client.handshakeInfo?.peerSignatureScheme).toBe(scheme);
    });
  }
});

// RFC 8446 §4.1.4: the server asks for another share when the client guessed wrong.
describe('HelloRetryRequest (RFC 8446 §4.1.4)', () => {
  it('client shares only x25519, server insists on X25519MLKEM768', async () => {
    const provider = seededProvider('hrr1');
    const key = await testKey(provider, 'ml-dsa-65');
    const { client, server } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(key), keyShareGroups: [NamedGroup.x25519] },
      { provider, certificate: { chain: [key.publicKey], ...key }, groups: [NamedGroup.X25519MLKEM768], hrrCookie: true },
    );
    expect(client.handshakeInfo?.helloRetryRequest).toBe(true);
    expect(client.handshakeInfo?.group).toBe(NamedGroup.X25519MLKEM768);
    expect(server.handshakeInfo?.helloRetryRequest).toBe(true);
  });
});

// RFC 8446 §4.3.2, §4.4.2: mutual TLS.
describe('client authentication (RFC 8446 §4.3.2)', () => {
  it('server requires and verifies an ML-DSA-44 client key', async () => {
    const provider = seededProvider('mtls');
    const sk = await testKey(provider, 'ml-dsa-65');
    const ck = await testKey(provider, 'ml-dsa-44');
    const { client, server } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(sk), certificate: { chain: [ck.publicKey], ...ck } },
      { provider, certificate: { chain: [sk.publicKey], ...sk }, clientAuth: { verifier: pinnedKeyVerifier(ck), required: true } },
    );
    expect(server.handshakeInfo?.peerSignatureScheme).toBe(SignatureScheme.mldsa44);
    expect(client.handshakeInfo?.signatureScheme).toBe(SignatureScheme.mldsa44);
  });

  it('a required client certificate that is missing ends with certificate_required', async () => {
    const provider = seededProvider('mtls-missing');
    const sk = await testKey(provider, 'ml-dsa-65');
    const ck = await testKey(provider, 'ml-dsa-44');
    const { client, server } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(sk) },
      { provider, certificate: { chain: [sk.publicKey], ...sk }, clientAuth: { verifier: pinnedKeyVerifier(ck), required: true } },
    );
    expect(server.error?.alert).toBe(116);
    expect(client.error?.alert).toBe(116);
  });
});

// RFC 8446 §4.6.3: key updates in both directions.
describe('KeyUpdate (RFC 8446 §4.6.3)', () => {
  it('each side updates, with update_requested, and data still flows', async () => {
    const provider = seededProvider('ku');
    const key = await testKey(provider, 'ed25519');
    const { client, server } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(key) },
      { provider, certificate: { chain: [key.publicKey], ...key } },
    );
    await client.keyUpdate(true);
    await client.write(utf8('a'));
    await pump(client, server);
    await server.keyUpdate(false);
    await server.write(utf8('b'));
    await pump(client, server);
    expect(drain(server).filter((e) => e.type === 'data').length).toBe(1);
    expect(drain(client).filter((e) => e.type === 'data').length).toBe(1);
    expect(client.error).toBeUndefined();
    expect(server.error).toBeUndefined();
  });
});

describe('close_notify (RFC 8446 §6.1)', () => {
  it('is reported as peerClosed', async () => {
    const provider = seededProvider('close');
    const key = await testKey(provider, 'ed25519');
    const { client, server } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(key) },
      { provider, certificate: { chain: [key.publicKey], ...key } },
    );
    await client.close();
    await pump(client, server);
    expect(drain(server).some((e) => e.type === 'peerClosed')).toBe(true);
    await server.close();
    await pump(client, server);
    expect(client.isClosed && server.isClosed).toBe(true);
  });
});

// NSS key log format (what SSLKEYLOGFILE readers such as Wireshark expect).
describe('key log', () => {
  it('both sides log the same five secrets under the client random', async () => {
    const provider = seededProvider('keylog');
    const key = await testKey(provider, 'ed25519');
    const clientLines: string[] = [];
    const serverLines: string[] = [];
    await connectPair(
      { provider, verifier: pinnedKeyVerifier(key), keyLog: (l) => clientLines.push(l) },
      { provider, certificate: { chain: [key.publicKey], ...key }, keyLog: (l) => serverLines.push(l) },
    );
    expect(clientLines.map((l) => l.split(' ')[0]).sort()).toEqual([
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'EXPORTER_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_TRAFFIC_SECRET_0',
    ]);
    expect([...serverLines].sort()).toEqual([...clientLines].sort());
    for (const l of clientLines) expect(l).toMatch(/^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]{64}$/);
  });
});
