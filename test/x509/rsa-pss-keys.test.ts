/**
 * id-RSASSA-PSS keys (RFC 4055 §1.2, OID 1.2.840.113549.1.1.10), as
 * `openssl genpkey -algorithm RSA-PSS` writes them: loaded from PKCS #8 with
 * their RSASSA-PSS-params restriction (§3.1: one hash, a minimum salt),
 * certificates with such an SPKI parsed and validated, and TLS 1.3 served
 * with `rsa_pss_pss_*` only (RFC 8446 §4.2.3: "If the public key is carried in
 * an X.509 certificate, it MUST use the RSASSA-PSS OID"), within the key's
 * restriction. The fixtures are OpenSSL 3.5's (test/fixtures/rsa-pss.ts), so
 * nothing here needs a peer; rsa-pss-interop.test.ts talks to OpenSSL itself.
 * The restricted fixture has no maskGenAlgorithm, so its MGF1 hash is the DER
 * default SHA-1, which OpenSSL honours when it signs with the key; so do we.
 */
import { describe, expect, it } from 'vitest';
import { utf8 } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { SignatureScheme, signatureSchemeName, type SignatureScheme as Scheme } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { seededRandom } from '../../src/testing/index.js';
import { createNodeCryptoProvider } from '../../src/node/crypto-provider.js';
import { loadCertifiedKey } from '../../src/tls13/credentials.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import {
  decodePem, encodePkcs8, importPrivateKeyPem, parseCertificate, parsePemChain, parsePkcs8, parsePkcs8Pem, verifyChain,
} from '../../src/x509/index.js';
import { connectPair } from '../helpers/tls-pair.js';
import {
  RSA_PSS_CERT_PEM, RSA_PSS_FIXTURE_NOW, RSA_PSS_KEY_PEM, RSA_PSS_ROOT_PEM, RSA_PSS_SHA256_CERT_PEM, RSA_PSS_SHA256_KEY_PEM,
} from '../fixtures/rsa-pss.js';

const S = SignatureScheme;
const message = utf8('TLS 1.3, server CertificateVerify');
/** What `-pkeyopt rsa_pss_keygen_md:sha256 -pkeyopt rsa_pss_keygen_saltlen:32` writes. */
const RESTRICTION = { hash: 'SHA-256', mgfHash: 'SHA-1', saltLength: 32 } as const;
const PSS_PSS = [S.rsa_pss_pss_sha256, S.rsa_pss_pss_sha384, S.rsa_pss_pss_sha512] as const;
const providers: readonly [string, () => CryptoProvider][] = [
  ['noble', () => createNobleProvider({ random: seededRandom('rsa-pss keys') })],
  ['noble (WebCrypto)', () => createNobleProvider({ rsaPrivateOps: 'webcrypto' })],
  ['node', () => createNodeCryptoProvider({ random: seededRandom('rsa-pss keys') })],
];

describe('PKCS #8 id-RSASSA-PSS keys (RFC 4055 §1.2, §3.1)', () => {
  it('a key with RSASSA-PSS-params is restricted to its hash, MGF1 hash and minimum salt', () => {
    const k = parsePkcs8Pem(RSA_PSS_SHA256_KEY_PEM);
    expect(k.algorithm).toBe('rsa-pss');
    // OpenSSL wrote no maskGenAlgorithm: the DER default, MGF1-SHA1 (RFC 4055 §3.1).
    expect(k).toMatchObject({ pss: RESTRICTION });
  });

  it('a key without parameters is unrestricted', () => {
    const k = parsePkcs8Pem(RSA_PSS_KEY_PEM);
    expect(k.algorithm).toBe('rsa-pss');
    expect('pss' in k).toBe(false);
  });

  it('encodes back to PKCS #8 byte for byte as OpenSSL wrote it (defaults omitted, X.690 §11.5)', () => {
    for (const pem of [RSA_PSS_SHA256_KEY_PEM, RSA_PSS_KEY_PEM]) {
      const k = parsePkcs8Pem(pem);
      const { publicKey: _, ...material } = k as typeof k & { publicKey?: Uint8Array };
      const der = encodePkcs8(material);
      expect(der).toEqual(decodePem(pem)[0]?.bytes);
      expect(parsePkcs8(der)).toEqual(material);
    }
  });
});

describe.each(providers)('%s provider: id-RSASSA-PSS signing', (_, make) => {
  it('a restricted key signs rsa_pss_pss_sha256 only; the signature verifies', async () => {
    const p = make();
    const key = await importPrivateKeyPem(p, RSA_PSS_SHA256_KEY_PEM);
    expect(key.privateKey.algorithm).toBe('rsa-pss');
    const sig = await p.sign(S.rsa_pss_pss_sha256, key.privateKey, message);
    // The mask is MGF1-SHA1, as the key says (and as OpenSSL signs with it): a verifier must be told.
    expect(await p.verify(S.rsa_pss_pss_sha256, key.publicKey, message, sig, { rsaPss: RESTRICTION })).toBe(true);
    expect(await p.verify(S.rsa_pss_pss_sha256, key.publicKey, message, sig)).toBe(false);
    // RFC 4055 §3.1: another hash is outside the key's parameters.
    await expect(p.sign(S.rsa_pss_pss_sha384, key.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    await expect(p.sign(S.rsa_pss_pss_sha512, key.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    // An RSASSA-PSS key never signs under rsaEncryption schemes (RFC 8446 §4.2.3).
    await expect(p.sign(S.rsa_pss_rsae_sha256, key.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
    await expect(p.sign(S.rsa_pkcs1_sha256, key.privateKey, message)).rejects.toBeInstanceOf(ConfigError);
  });

  it('an unrestricted key signs every rsa_pss_pss_* scheme', async () => {
    const p = make();
    const key = await importPrivateKeyPem(p, RSA_PSS_KEY_PEM);
    for (const scheme of PSS_PSS) {
      const sig = await p.sign(scheme, key.privateKey, message);
      expect(await p.verify(scheme, key.publicKey, message, sig), signatureSchemeName(scheme)).toBe(true);
    }
  });

  it('refuses a restriction no TLS signature can meet (minimum salt above the hash length)', async () => {
    const p = make();
    const k = parsePkcs8Pem(RSA_PSS_KEY_PEM);
    const pkcs1 = (k as { pkcs1: Uint8Array }).pkcs1;
    await expect(p.importPrivateKey({ algorithm: 'rsa-pss', pkcs1, pss: { hash: 'SHA-256', mgfHash: 'SHA-1', saltLength: 33 } })).rejects.toBeInstanceOf(ConfigError);
    await expect(p.importPrivateKey({ algorithm: 'rsa-pss', pkcs1, pss: { hash: 'SHA-256', mgfHash: 'SHA-1', saltLength: 32 } })).resolves.toBeDefined();
  });

  it('exports the key with its restriction', async () => {
    const p = make();
    const key = await importPrivateKeyPem(p, RSA_PSS_SHA256_KEY_PEM);
    expect(await p.exportPrivateKey(key.privateKey)).toMatchObject({ algorithm: 'rsa-pss', pss: RESTRICTION });
  });
});

describe('certificates with an id-RSASSA-PSS SubjectPublicKeyInfo', () => {
  it('parse with their restriction and validate to the root', async () => {
    const provider = createNobleProvider({ random: seededRandom('pss chain') });
    const [root] = parsePemChain(RSA_PSS_ROOT_PEM);
    for (const [pem, restriction] of [[RSA_PSS_SHA256_CERT_PEM, RESTRICTION], [RSA_PSS_CERT_PEM, undefined]] as const) {
      const leaf = parseCertificate(decodePem(pem)[0]?.bytes as Uint8Array);
      expect(leaf.publicKey.algorithm).toBe('rsa-pss');
      expect(leaf.publicKey.rsaPss).toEqual(restriction);
      const result = await verifyChain({
        provider, leaf, intermediates: [], trustAnchors: [root as NonNullable<typeof root>], now: new Date(RSA_PSS_FIXTURE_NOW),
        hostname: 'localhost', purpose: 'serverAuth',
      });
      expect(result.leaf.publicKey.algorithm).toBe('rsa-pss');
    }
  });
});

describe('TLS 1.3 with an id-RSASSA-PSS server key, in memory (RFC 8446 §4.2.3, §4.4.3)', () => {
  async function handshake(keyPem: string, certPem: string, clientSchemes?: readonly Scheme[]) {
    const serverProvider = createNobleProvider({ random: seededRandom('pss server') });
    const clientProvider = createNobleProvider({ random: seededRandom('pss client') });
    const certificate = await loadCertifiedKey(serverProvider, certPem, keyPem);
    const { client, server } = await connectPair(
      {
        provider: clientProvider, now: () => RSA_PSS_FIXTURE_NOW, serverName: 'localhost',
        verifier: webPkiVerifier({ provider: clientProvider, trustAnchors: [RSA_PSS_ROOT_PEM] }),
        ...(clientSchemes ? { signatureSchemes: clientSchemes } : {}),
      },
      { provider: serverProvider, now: () => RSA_PSS_FIXTURE_NOW, certificate },
    );
    return { client, server, certificate };
  }

  it('the restricted key: loaded with its certificate, signs rsa_pss_pss_sha256 and the client accepts it', async () => {
    const { client, certificate } = await handshake(RSA_PSS_SHA256_KEY_PEM, RSA_PSS_SHA256_CERT_PEM);
    expect(certificate.keyAlgorithm).toBe('rsa-pss');
    expect(client.handshakeInfo?.peerSignatureScheme).toBe(S.rsa_pss_pss_sha256);
  });

  it('the restricted key picks SHA-256 even when the client lists SHA-512 first', async () => {
    const { client } = await handshake(RSA_PSS_SHA256_KEY_PEM, RSA_PSS_SHA256_CERT_PEM, [S.rsa_pss_pss_sha512, S.rsa_pss_pss_sha384, S.rsa_pss_pss_sha256]);
    expect(client.handshakeInfo?.peerSignatureScheme).toBe(S.rsa_pss_pss_sha256);
  });

  it('the restricted key fails the handshake when the client offers only other PSS hashes', async () => {
    const { client, server } = await handshake(RSA_PSS_SHA256_KEY_PEM, RSA_PSS_SHA256_CERT_PEM, [S.rsa_pss_pss_sha384, S.rsa_pss_pss_sha512]);
    expect(client.handshakeInfo).toBeUndefined();
    expect(server.handshakeInfo).toBeUndefined();
  });

  it('the unrestricted key completes with the client’s rsa_pss_pss_sha384', async () => {
    const { client } = await handshake(RSA_PSS_KEY_PEM, RSA_PSS_CERT_PEM, [S.rsa_pss_pss_sha384]);
    expect(client.handshakeInfo?.peerSignatureScheme).toBe(S.rsa_pss_pss_sha384);
  });

  it('a client that offers only rsa_pss_rsae_* cannot be served with an RSASSA-PSS key', async () => {
    const { client } = await handshake(RSA_PSS_KEY_PEM, RSA_PSS_CERT_PEM, [S.rsa_pss_rsae_sha256]);
    expect(client.handshakeInfo).toBeUndefined();
  });
});
