/**
 * Certificates for the interop cases: per signature family (ML-DSA-65 for
 * pairings where both sides can use it, ECDSA P-256 otherwise) a root with a
 * server leaf, and for amplificationlimit a chain of nine certificates (leaf,
 * seven intermediates, root) so the server's first flight is many times what
 * the client's Initial allows it to send (RFC 9000 §8.1). As the interop
 * runner's certs.sh builds it: the leaf and eight intermediates are sent, the
 * root is only the client's trust anchor.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CryptoProvider, KeyAlgorithm } from '../../../src/pq/index.js';
import { generateRoot, issueIntermediate, issueLeaf, type IssuedCertificate } from '../../../src/x509/ca.js';
import { encodePem } from '../../../src/x509/pem.js';
import { exportPrivateKeyPem } from '../../../src/x509/pkcs8.js';

export type CertFamily = 'mldsa' | 'ecdsa';

/** A server credential as files: what every implementation's server loads. */
export interface ServerCert {
  /** What the server sends, leaf first (PEM). */
  readonly chainFile: string;
  /** PKCS #8 private key of the leaf (PEM). */
  readonly keyFile: string;
  /** The root (PEM): the client's trust anchor. */
  readonly caFile: string;
  /** Total DER bytes of the chain: a Certificate message carries at least this much. */
  readonly chainBytes: number;
  /** Certificates the server sends. */
  readonly certificates: number;
}

export interface CasePki {
  readonly short: Record<CertFamily, ServerCert>;
  /** The nine certificates of amplificationlimit (leaf and eight intermediates). */
  readonly long: Record<CertFamily, ServerCert>;
}

const ALGORITHM: Record<CertFamily, KeyAlgorithm> = { mldsa: 'ml-dsa-65', ecdsa: 'ecdsa-p256' };

/** A leaf under `intermediates` CAs under a root; the server sends the root too only when there are no intermediates. */
async function mintChain(provider: CryptoProvider, dir: string, family: CertFamily, intermediates: number): Promise<ServerCert> {
  const algorithm = ALGORITHM[family];
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 2 * 24 * 3600_000) };
  const root = await generateRoot({ provider, subject: `CN=pqtls interop ${family} root,O=pqtls`, algorithm, ...validity });
  const cas: IssuedCertificate[] = [root];
  for (let i = 1; i <= intermediates; i++) {
    const issuer = cas[cas.length - 1] as IssuedCertificate;
    cas.push(await issueIntermediate({
      provider, subject: `CN=pqtls interop ${family} intermediate ${i},O=pqtls`, algorithm, ...validity,
      issuer: { certificate: issuer.certificate, privateKey: issuer.keyPair.privateKey },
    }));
  }
  const top = cas[cas.length - 1] as IssuedCertificate;
  const leaf = await issueLeaf({
    provider, algorithm, dns: ['localhost'], ip: ['127.0.0.1'], ...validity,
    issuer: { certificate: top.certificate, privateKey: top.keyPair.privateKey },
  });
  const above = cas.slice().reverse().map((c) => c.certificate.der);
  const chain = [leaf.certificate.der, ...(intermediates > 0 ? above.slice(0, -1) : above)];
  const name = `${family}-${chain.length}`;
  const chainFile = join(dir, `${name}-chain.pem`);
  const keyFile = join(dir, `${name}.key`);
  const caFile = join(dir, `${name}-root.pem`);
  writeFileSync(chainFile, chain.map((der) => encodePem('CERTIFICATE', der)).join(''));
  // ECDSA keys carry their public key so every parser can use them without recomputing it.
  const options = family === 'ecdsa' ? { publicKey: leaf.keyPair.publicKey } : {};
  writeFileSync(keyFile, await exportPrivateKeyPem(provider, leaf.keyPair.privateKey, options));
  writeFileSync(caFile, encodePem('CERTIFICATE', root.certificate.der));
  return { chainFile, keyFile, caFile, chainBytes: chain.reduce((n, c) => n + c.length, 0), certificates: chain.length };
}

/** Mints everything the cases need into `dir` (which must exist). */
export async function mintCasePki(provider: CryptoProvider, dir: string): Promise<CasePki> {
  return {
    short: { mldsa: await mintChain(provider, dir, 'mldsa', 0), ecdsa: await mintChain(provider, dir, 'ecdsa', 0) },
    long: { mldsa: await mintChain(provider, dir, 'mldsa', 8), ecdsa: await mintChain(provider, dir, 'ecdsa', 8) },
  };
}
