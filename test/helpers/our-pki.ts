/**
 * Certificates for interop tests minted by pqtls's own CA API (src/x509/ca.ts),
 * written as PEM files the peers load: if OpenSSL or Node accept these chains,
 * our encoder produces certificates other stacks understand, and our handshake
 * signs with keys they can verify.
 *
 * One hierarchy per signature family, each a root and leaves issued directly
 * by it: a server leaf for `localhost` / 127.0.0.1 and a client leaf (EKU
 * clientAuth) for mutual TLS.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CryptoProvider, KeyAlgorithm } from '../../src/pq/index.js';
import type { CertifiedKey } from '../../src/tls13/config.js';
import { generateRoot, issueLeaf, type IssuedCertificate } from '../../src/x509/ca.js';
import { encodePem } from '../../src/x509/pem.js';
import { exportPrivateKeyPem } from '../../src/x509/pkcs8.js';

/** What our side of a handshake loads: a chain (leaf first, DER) and its provider-held key. */
export type OurCredentials = CertifiedKey & { readonly keyAlgorithm: KeyAlgorithm };

/** A leaf as files for a peer and as credentials for us. */
export interface MintedLeaf {
  /** The leaf certificate alone (PEM). */
  readonly certFile: string;
  /** Leaf then root (PEM), as a server sends it. */
  readonly chainFile: string;
  /** PKCS #8 private key (PEM). */
  readonly keyFile: string;
  readonly credentials: OurCredentials;
}

/** A root with its server and client leaves. */
export interface MintedHierarchy {
  readonly algorithm: KeyAlgorithm;
  /** The root certificate (PEM file), the peer's trust anchor. */
  readonly rootFile: string;
  /** The root certificate (DER), our trust anchor. */
  readonly rootDer: Uint8Array;
  readonly server: MintedLeaf;
  readonly client: MintedLeaf;
}

function certPem(c: IssuedCertificate): string {
  return encodePem('CERTIFICATE', c.certificate.der);
}

async function writeLeaf(
  provider: CryptoProvider, dir: string, name: string, leaf: IssuedCertificate, root: IssuedCertificate, algorithm: KeyAlgorithm,
): Promise<MintedLeaf> {
  const certFile = join(dir, `${name}.pem`);
  const chainFile = join(dir, `${name}-chain.pem`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, certPem(leaf));
  writeFileSync(chainFile, certPem(leaf) + certPem(root));
  // ECDSA keys carry their public key so every parser can use them without recomputing it.
  const options = algorithm.startsWith('ecdsa') ? { publicKey: leaf.keyPair.publicKey } : {};
  writeFileSync(keyFile, await exportPrivateKeyPem(provider, leaf.keyPair.privateKey, options));
  return {
    certFile, chainFile, keyFile,
    credentials: { chain: [leaf.certificate.der, root.certificate.der], privateKey: leaf.keyPair.privateKey, keyAlgorithm: algorithm },
  };
}

/**
 * Mints a root, a server leaf (localhost, 127.0.0.1) and a client leaf with
 * `algorithm` keys through `provider`, and writes them into `dir` (which must
 * exist) with the file prefix `prefix`. Valid from an hour ago for two days,
 * since the peers check validity against the real clock.
 */
export async function mintHierarchy(provider: CryptoProvider, dir: string, prefix: string, algorithm: KeyAlgorithm): Promise<MintedHierarchy> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 3600_000), notAfter: new Date(now + 2 * 24 * 3600_000) };
  const root = await generateRoot({ provider, subject: `CN=pqtls interop ${algorithm} root,O=pqtls`, algorithm, ...validity });
  const issuer = { certificate: root.certificate, privateKey: root.keyPair.privateKey };
  const serverLeaf = await issueLeaf({ provider, issuer, algorithm, dns: ['localhost'], ip: ['127.0.0.1'], ...validity });
  const clientLeaf = await issueLeaf({
    provider, issuer, algorithm, subject: `CN=pqtls interop ${algorithm} client`, extKeyUsage: ['clientAuth'], ...validity,
  });
  const rootFile = join(dir, `${prefix}-root.pem`);
  writeFileSync(rootFile, certPem(root));
  return {
    algorithm,
    rootFile,
    rootDer: root.certificate.der,
    server: await writeLeaf(provider, dir, `${prefix}-server`, serverLeaf, root, algorithm),
    client: await writeLeaf(provider, dir, `${prefix}-client`, clientLeaf, root, algorithm),
  };
}

/** The PQ hierarchy (ML-DSA-65) and a classical one (ECDSA P-256), as the interop suites use them. */
export interface OurPki {
  readonly mldsa: MintedHierarchy;
  readonly ecdsa: MintedHierarchy;
}

export async function mintOurPki(provider: CryptoProvider, dir: string): Promise<OurPki> {
  return {
    mldsa: await mintHierarchy(provider, dir, 'mldsa65', 'ml-dsa-65'),
    ecdsa: await mintHierarchy(provider, dir, 'p256', 'ecdsa-p256'),
  };
}
