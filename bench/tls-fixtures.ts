/**
 * The PKI the handshake benchmark uses: an ML-DSA-65 root and an ML-DSA-65
 * leaf for `localhost`, minted once with our CA API, and the same certificates
 * and key as PEM files for other TLS stacks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CryptoProvider } from '../src/pq/provider.js';
import type { ServerOptions } from '../src/tls13/config.js';
import { generateRoot, issueLeaf } from '../src/x509/ca.js';
import { certificateToPem } from '../src/x509/pem-certificates.js';
import { exportPrivateKeyPem } from '../src/x509/pkcs8.js';

export const SERVER_NAME = 'localhost';

export interface BenchPki {
  readonly rootDer: Uint8Array;
  /** What the server sends: leaf, then root (as the PEM chain other stacks get). */
  readonly certificate: ServerOptions['certificate'];
  /** Milliseconds since the epoch inside the certificates' validity. */
  readonly now: number;
}

/** Mints the chain; the leaf key lives in `provider`, so the server must use that provider (or a wrapper of it). */
export async function mintPki(provider: CryptoProvider): Promise<BenchPki> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 24 * 3600_000) };
  const root = await generateRoot({ provider, subject: 'CN=pqtls bench root', algorithm: 'ml-dsa-65', ...validity });
  const leaf = await issueLeaf({
    provider, algorithm: 'ml-dsa-65', dns: [SERVER_NAME], ...validity,
    issuer: { certificate: root.certificate, privateKey: root.keyPair.privateKey },
  });
  return {
    rootDer: root.certificate.der,
    certificate: { chain: [leaf.certificate.der, root.certificate.der], privateKey: leaf.keyPair.privateKey, keyAlgorithm: 'ml-dsa-65' },
    now,
  };
}

/**
 * Writes `root.pem`, `chain.pem` (leaf then root) and `key.pem` (PKCS #8) to a
 * fresh temporary directory; `remove` deletes it.
 */
export async function writePem(provider: CryptoProvider, pki: BenchPki): Promise<{ dir: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'pqtls-bench-'));
  writeFileSync(join(dir, 'root.pem'), certificateToPem(pki.rootDer));
  writeFileSync(join(dir, 'chain.pem'), pki.certificate.chain.map((c) => certificateToPem(c)).join(''));
  writeFileSync(join(dir, 'key.pem'), await exportPrivateKeyPem(provider, pki.certificate.privateKey));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
