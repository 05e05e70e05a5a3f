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
      expect(sock.getPeerCertificateChain()).toEqual([key.publicKey]);
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

describe('Node adapter with an X.509 chain', () => {
  it('getPeerCertificate() summarises the validated ML-DSA-65 leaf', async () => {
    const { createNobleProvider } = await import('../../src/pq/index.js');
    const { generateRoot, issueLeaf } = await import('../../src/x509/ca.js');
    const { webPkiVerifier } = await import('../../src/tls13/verifier.js');
    const provider = createNobleProvider();
    const validity = { notBefore: new Date(Date.now() - 3600_000), notAfter: new Date(Date.now() + 3600_000) };
    const root = await generateRoot({ provider, subject: 'CN=adapter root', ...validity });
    const leaf = await issueLeaf({ provider, dns: ['localhost'], ...validity, issuer: { certificate: root.certificate, privateKey: root.keyPair.privateKey } });
    const certificate = { chain: [leaf.certificate.der, root.certificate.der], privateKey: leaf.keyPair.privateKey, keyAlgorithm: 'ml-dsa-65' as const };
    const server = createServer({ provider, certificate }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const sock = await connect({ host: '127.0.0.1', port, provider, serverName: 'localhost', verifier: webPkiVerifier({ provider, trustAnchors: [root.certificate.der] }) });
      const peer = sock.getPeerCertificate();
      expect(peer).toMatchObject({ subject: 'CN=localhost', issuer: 'CN=adapter root', publicKeyAlgorithm: 'ML-DSA-65', dns: ['localhost'] });
      expect(peer?.raw).toEqual(leaf.certificate.der);
      sock.destroy();
    } finally {
      server.close();
    }
  });
});

describe('webPkiVerifier', () => {
  it('refuses to authenticate a server without the name it must match (RFC 9525 §6)', async () => {
    const { createNobleProvider } = await import('../../src/pq/index.js');
    const { generateRoot } = await import('../../src/x509/ca.js');
    const { webPkiVerifier } = await import('../../src/tls13/verifier.js');
    const provider = createNobleProvider();
    const root = await generateRoot({ provider, subject: 'CN=r', notBefore: new Date(0), notAfter: new Date(2 ** 42) });
    const v = webPkiVerifier({ provider, trustAnchors: [root.certificate.der] });
    await expect(v.verify([root.certificate.der], { purpose: 'serverAuth', now: Date.now() })).rejects.toThrow(/serverName is required/);
  });
});

describe('Node adapter backpressure', () => {
  it('a reader that does not read stops the socket from being drained, and resumes when it reads', async () => {
    const provider = seededProvider('backpressure');
    const key = await testKey(provider, 'ed25519');
    const big = new Uint8Array(4 << 20).map((_, i) => i & 0xff);
    const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, (s) => s.end(big));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const sock = await connect({ host: '127.0.0.1', port, provider, now: clock, verifier: pinnedKeyVerifier(key) });
      await new Promise((r) => setTimeout(r, 300));
      // Without reading, only about a highWaterMark's worth is taken off the socket, not all 4 MiB.
      expect(sock.readableLength).toBeLessThan(1 << 20);
      let got = 0;
      await new Promise<void>((resolve) => {
        sock.on('data', (d: Buffer) => (got += d.length));
        sock.on('end', resolve);
      });
      expect(got).toBe(big.length);
    } finally {
      server.close();
    }
  });
});
