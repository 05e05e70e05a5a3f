import { describe, expect, it } from 'vitest';
import { AlertDescription, ConfigError } from '../../src/errors.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { ContentType } from '../../src/tls13/constants.js';
import { encodeRecord } from '../../src/tls13/record-layer.js';
import { frameHandshake } from '../../src/tls13/messages/handshake.js';
import { clock, connectPair, drain, pinnedKeyVerifier, pump, seededProvider, testKey } from '../helpers/tls-pair.js';

describe('configuration is validated up front', async () => {
  const provider = seededProvider('config');
  const key = await testKey(provider, 'ml-dsa-44');
  const verifier = pinnedKeyVerifier(key);
  const certificate = { chain: [key.publicKey], ...key };
  const cases: [string, () => unknown, RegExp][] = [
    ['a server without a certificate', () => TlsConnection.server({ provider, now: clock } as never), /certificate is required/],
    ['an unknown group name', () => TlsConnection.server({ provider, now: clock, certificate, groups: ['X448MLKEM'] }), /unknown group X448MLKEM/],
    ['an empty certificate chain', () => TlsConnection.server({ provider, now: clock, certificate: { ...certificate, chain: [] } }), /empty certificate chain/],
    ['a key that is not what keyAlgorithm says', () => TlsConnection.server({ provider, now: clock, certificate: { ...certificate, keyAlgorithm: 'ed25519' } }), /private key is ml-dsa-44/],
    ['an unknown signature scheme', () => TlsConnection.server({ provider, now: clock, certificate, signatureSchemes: ['ecdsa_brainpoolP256r1tls13_sha256'] }), /unknown scheme/],
    ['a record_size_limit below 64', () => TlsConnection.server({ provider, now: clock, certificate, recordSizeLimit: 10 }), /recordSizeLimit/],
    ['an empty ALPN name', () => TlsConnection.server({ provider, now: clock, certificate, alpnProtocols: [''] }), /alpnProtocols/],
    ['a client without a verifier', () => TlsConnection.client({ provider, now: clock } as never), /verifier is required/],
    ['key shares for a group not offered', () => TlsConnection.client({ provider, now: clock, verifier, groups: ['x25519'], keyShareGroups: ['MLKEM768'] }), /not in groups/],
  ];
  for (const [what, make, message] of cases) {
    it(`rejects ${what}`, async () => {
      await expect(async () => make()).rejects.toThrow(ConfigError);
      await expect(async () => make()).rejects.toThrow(message);
    });
  }
});

describe('limits end the connection with the right alert', () => {
  it('a handshake message longer than maxHandshakeMessageSize → decode_error, before it is buffered', async () => {
    const provider = seededProvider('limit-hs');
    const key = await testKey(provider, 'ed25519');
    const s = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key }, maxHandshakeMessageSize: 4096 });
    // Only the 4-byte header of a 5000-byte ClientHello arrives.
    await s.receive(encodeRecord(ContentType.handshake, new Uint8Array([1, 0, 0x13, 0x88])));
    expect(s.error?.alert).toBe(AlertDescription.decode_error);
  });

  it('a plaintext record over 2^14 → record_overflow (RFC 8446 §5.1)', async () => {
    const provider = seededProvider('limit-rec');
    const key = await testKey(provider, 'ed25519');
    const s = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
    await s.receive(new Uint8Array([22, 3, 3, 0x40, 0x01]));
    expect(s.error?.alert).toBe(AlertDescription.record_overflow);
  });

  it('an ML-DSA-87 "chain" and 1 MiB of data pass in one receive() each', async () => {
    const provider = seededProvider('limit-big');
    const key = await testKey(provider, 'ml-dsa-87');
    const { client, server } = await connectPair({ provider, verifier: pinnedKeyVerifier(key) }, { provider, certificate: { chain: [key.publicKey], ...key } });
    const big = new Uint8Array(1 << 20).map((_, i) => i * 7);
    await client.write(big);
    await server.receive(client.takeOutput());
    const got = drain(server).flatMap((e) => (e.type === 'data' ? [e.data] : []));
    expect(got.reduce((n, d) => n + d.length, 0)).toBe(big.length);
    expect(server.error).toBeUndefined();
  });

  it('a peer record_size_limit caps our records (RFC 8449)', async () => {
    const provider = seededProvider('rsl');
    const key = await testKey(provider, 'ed25519');
    const { client, server } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(key), recordSizeLimit: 256 },
      { provider, certificate: { chain: [key.publicKey], ...key } },
    );
    await server.write(new Uint8Array(1000));
    const out = server.takeOutput();
    // 1000 bytes at 255 per record: four records, each at most 5 + 256 + 16 bytes.
    let n = 0;
    for (let o = 0; o < out.length; n++) {
      const len = ((out[o + 3] as number) << 8) | (out[o + 4] as number);
      expect(len).toBeLessThanOrEqual(256 + 16);
      o += 5 + len;
    }
    expect(n).toBe(4);
    await client.receive(out);
    expect(drain(client).filter((e) => e.type === 'data').length).toBe(4);
    await pump(client, server);
  });

  it('handshake messages are refused once keys change mid-message (RFC 8446 §5.1)', async () => {
    const provider = seededProvider('span');
    const key = await testKey(provider, 'ed25519');
    const s = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
    const c = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key) });
    const ch = c.takeOutput();
    // The ClientHello followed, in the same record, by the start of another message.
    const body = ch.subarray(5);
    await s.receive(encodeRecord(ContentType.handshake, new Uint8Array([...body, ...frameHandshake(20, new Uint8Array(32)).subarray(0, 10)])));
    expect(s.error?.alert).toBe(AlertDescription.unexpected_message);
  });
});
