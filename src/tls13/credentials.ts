import { equalBytes } from '../bytes.js';
import { ConfigError } from '../errors.js';
import type { KeyAlgorithm } from '../pq/ids.js';
import type { CryptoProvider } from '../pq/provider.js';
import { parseCertificate } from '../x509/certificate.js';
import { decodePem } from '../x509/pem.js';
import { importPrivateKeyPem } from '../x509/pkcs8.js';
import type { CertifiedKey } from './config.js';

/** All CERTIFICATE blocks of a PEM bundle, as DER, in file order. Each is parsed, so a bad one fails here. */
export function pemCertificates(pem: string): Uint8Array[] {
  const ders = decodePem(pem).filter((b) => b.label === 'CERTIFICATE').map((b) => b.bytes);
  for (const d of ders) parseCertificate(d);
  return ders;
}

/**
 * Loads a certificate chain (leaf first) and its PKCS #8 private key into the
 * provider, checking that the key belongs to the leaf.
 */
export async function loadCertifiedKey(
  provider: CryptoProvider, chainPem: string, keyPem: string,
): Promise<CertifiedKey & { readonly keyAlgorithm: KeyAlgorithm }> {
  const chain = pemCertificates(chainPem);
  const leaf = chain[0];
  if (!leaf) throw new ConfigError('certificate file holds no CERTIFICATE block');
  const kp = await importPrivateKeyPem(provider, keyPem);
  const leafKey = parseCertificate(leaf).publicKey;
  const alg = kp.privateKey.algorithm;
  if (alg === 'kex') throw new ConfigError('not a signing key');
  if (leafKey.algorithm !== alg || !equalBytes(leafKey.publicKey, kp.publicKey)) {
    throw new ConfigError('the private key does not match the leaf certificate');
  }
  return { chain, privateKey: kp.privateKey, keyAlgorithm: alg, ...(leafKey.rsaPss ? { rsaPss: leafKey.rsaPss } : {}) };
}
