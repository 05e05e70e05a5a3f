/**
 * Certificates an attacker builds to make path building work: seven
 * same-name, same-key intermediates (every one can issue every other), keys
 * whose verification is as costly as allowed, and a provider wrapper that
 * counts verifications. Used by the signature-budget tests and by
 * `bench/adversarial.ts`.
 */
import { bits, derNull, integer, oid, sequence } from '../../src/codec/der.js';
import type { CryptoProvider, KeyPair } from '../../src/pq/provider.js';
import { Oid, basicConstraintsExtension, keyUsageExtension, parseCertificate, signCertificate, subjectAltNameExtension } from '../../src/x509/index.js';
import { encodeName, parseNameText } from '../../src/x509/name.js';
import { NOT_AFTER, NOT_BEFORE } from '../x509/pki.js';

export interface Counting {
  readonly provider: CryptoProvider;
  /** Modulus or key sizes of every verify call, in order. */
  readonly calls: number[];
}

/** `inner`, counting verify calls; `acceptAll` stands in for an attacker who holds the issuers' key (every signature verifies). */
export function counting(inner: CryptoProvider, acceptAll: boolean): Counting {
  const calls: number[] = [];
  const wrapped: CryptoProvider = Object.create(inner) as CryptoProvider;
  Object.defineProperty(wrapped, 'verify', {
    value: async (...args: Parameters<CryptoProvider['verify']>): Promise<boolean> => {
      calls.push(args[1].length);
      const ok = await inner.verify(...args);
      return acceptAll || ok;
    },
  });
  return { provider: wrapped, calls };
}

/** An RSAPublicKey with a `bits`-bit odd modulus (not a product of primes: only its size matters here). */
export function rsaPublicKey(bits: number, exponent: Uint8Array): Uint8Array {
  const n = new Uint8Array(bits / 8);
  for (let i = 0; i < n.length; i++) n[i] = (i * 151 + 7) & 0xff;
  n[0] = (n[0] as number) | 0x80;
  n[n.length - 1] = (n[n.length - 1] as number) | 1;
  return sequence(integer(n), integer(exponent));
}
export const E_65537 = new Uint8Array([1, 0, 1]);
export const E_MAX = new Uint8Array([0xff, 0xff, 0xff, 0xff]);

export const LOOK_ALIKE = 'CN=Look-alike CA,O=attacker';

/**
 * Seven self-issued CA certificates with one subject and one key, and a leaf
 * under that name: every look-alike can issue every other, so the search
 * walks permutations of them until a limit stops it.
 */
export async function lookAlikes(
  provider: CryptoProvider,
  subjectKey: { algorithm: 'rsa'; publicKey: Uint8Array } | KeyPair & { algorithm: 'ecdsa-p384' }, signer: KeyPair, rsaSignatureBytes?: number,
): Promise<{ leaf: Uint8Array; intermediates: Uint8Array[] }> {
  const name = LOOK_ALIKE;
  const nameDer = encodeName(parseNameText(name));
  const override = rsaSignatureBytes ? { signatureAlgorithmOverride: sequence(oid(Oid.sha256WithRsa), derNull()) } : {};
  const key = { algorithm: subjectKey.algorithm, publicKey: subjectKey.publicKey };
  const validity = { notBefore: NOT_BEFORE, notAfter: NOT_AFTER };
  // An RSA signature of the modulus' length, so the provider does the whole exponentiation before saying no.
  const sign = async (spec: Parameters<typeof signCertificate>[0]): Promise<Uint8Array> => {
    const der = await signCertificate(spec);
    if (rsaSignatureBytes === undefined) return der;
    const signature = new Uint8Array(rsaSignatureBytes).fill(0x5a);
    return sequence(parseCertificate(der).tbs, sequence(oid(Oid.sha256WithRsa), derNull()), bits(signature));
  };
  const intermediates: Uint8Array[] = [];
  for (let i = 0; i < 7; i++) {
    intermediates.push(await sign({
      provider, subject: nameDer, subjectKey: key, issuer: { name: nameDer, privateKey: signer.privateKey }, ...validity, ...override,
      serialNumber: new Uint8Array([0x10 + i]), extensions: [basicConstraintsExtension(true), keyUsageExtension(['keyCertSign'])],
    }));
  }
  const leafKey = await provider.generateKeyPair('ed25519');
  const leaf = await sign({
    provider, subject: 'CN=localhost', subjectKey: { algorithm: 'ed25519', publicKey: leafKey.publicKey },
    issuer: { name: nameDer, privateKey: signer.privateKey }, ...validity, ...override, serialNumber: new Uint8Array([1]),
    extensions: [subjectAltNameExtension({ dns: ['localhost'] })],
  });
  return { leaf, intermediates };
}

