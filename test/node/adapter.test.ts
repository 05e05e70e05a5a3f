import { describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type PqTlsSocket } from '../../src/node/index.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

describe('Node adapter over loopback TCP', () => {
  it('runs an X25519MLKEM768 + ML-DSA-65 handshake and echoes data, with TLSSocket-like accessors', async () => {
    const provider = seededProvider('adapter');
    const key = await testKey(provider, 'ml-dsa-65');
    const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['echo'] }, (s) => {
      s.on('data', (d: Buffer) => s.write(d));
      s.on('end', () => s.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const sock: PqTlsSocket = await connect({ host: '127.0.0.1', port, provider, now: clock, verifier: pinnedKeyVerifier(key), alpnProtocols: ['echo'] });
      expect(sock.getProtocol()).toBe('TLSv1.3');
      expect(sock.getEphemeralKeyInfo()).toEqual({ type: 'TLSGroup', name: 'X25519MLKEM768' });
      expect(sock.getPeerSignatureScheme()).toBe('mldsa65');
      expect(sock.alpnProtocol).toBe('echo');
      expect(sock.getCipher()?.name).toBe('TLS_AES_128_GCM_SHA256');
      const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
      const chunks: Buffer[] = [];
      const done = new Promise<void>((r) => sock.on('end', r));
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.end(big);
      await done;
      expect(new Uint8Array(Buffer.concat(chunks))).toEqual(big);
    } finally {
      server.close();
    }
  });
});
