/**
 * A client that writes and half-closes right after its handshake (`sock.end(request)`), against a server
 * still finishing that handshake (a slow provider: a card, a remote signer). The server's reply must still
 * reach the client: a TCP FIN ends the peer's direction only (RFC 9293 §3.6; TLS 1.3 §6.1 lets each side
 * close its own write direction with close_notify), so the TCP sockets under the adapter are half-open
 * capable and our side ends when the application ends it.
 */
import { describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from '../../src/node/index.js';
import type { CryptoProvider } from '../../src/pq/index.js';
import { pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

describe('half-close right behind the handshake (the server still verifying the client)', () => {
  it('the reply to a request sent with end() arrives', async () => {
    const provider = seededProvider('half-close');
    const serverKey = await testKey(provider, 'ed25519');
    const clientKey = await testKey(provider, 'ed25519');
    // Server-side verification of the client's CertificateVerify takes a while, as on a busy card.
    const slow: CryptoProvider = { ...provider, verify: async (...a) => (await new Promise((r) => setTimeout(r, 150)), provider.verify(...a)) };
    const server = createServer({
      provider: slow, now: () => Date.now(), certificate: { chain: [serverKey.publicKey], ...serverKey },
      clientAuth: { verifier: pinnedKeyVerifier(clientKey), required: true },
    }, (s) => {
      s.on('data', (d: Buffer) => s.write(`echo ${d.toString('utf8')}`));
      s.on('end', () => s.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const sock = await connect({
        host: '127.0.0.1', port, provider, now: () => Date.now(), verifier: pinnedKeyVerifier(serverKey),
        certificate: { chain: [clientKey.publicKey], ...clientKey },
      });
      const reply = await new Promise<string>((resolve, reject) => {
        const chunks: Buffer[] = [];
        sock.on('data', (d: Buffer) => chunks.push(d));
        sock.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        sock.on('error', reject);
        sock.end('request');
      });
      expect(reply).toBe('echo request');
    } finally {
      server.close();
    }
  });
});
