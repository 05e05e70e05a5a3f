/**
 * The work a peer's certificates can make path building (RFC 5280 §6, RFC 4158
 * §2.4 loops among same-name issuers) spend on signatures is bounded by cost,
 * not only by count: an RSA modulus over 8192 bits is refused before any
 * signature is checked with it, and every check is charged by its measured
 * relative cost against `limits.maxSignatureCost`.
 *
 * Verifications are counted through a wrapper around the real provider, not
 * timed. `acceptAll` stands in for an attacker who holds the private key of
 * the look-alike issuers (every signature would verify, so the search recurses):
 * the wrapper still runs the real verification, so the cost is real too.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AlertDescription } from '../../src/errors.js';
import type { KeyPair } from '../../src/pq/provider.js';
import {
  CertificateError, DEFAULT_CHAIN_LIMITS, RSA_MAX_VERIFY_BITS, parseCertificate, signCertificate, signatureVerificationCost,
  subjectAltNameExtension, verifyChain, type CertificateErrorReason,
} from '../../src/x509/index.js';
import { NOT_AFTER, NOT_BEFORE, NOW, makeChain, testProvider, type Chain } from './pki.js';
import { E_65537, E_MAX, LOOK_ALIKE, counting, lookAlikes, rsaPublicKey, type Counting } from '../helpers/x509-attacker.js';

const provider = testProvider('signature budget');

async function refusal(p: Promise<unknown>): Promise<CertificateError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(CertificateError);
  return e as CertificateError;
}

function expectReason(e: CertificateError, reason: CertificateErrorReason): void {
  expect({ reason: e.reason, alert: e.alert }).toEqual({ reason, alert: AlertDescription.bad_certificate });
}

describe('path building spends a bounded amount of signature work (RFC 5280 §6, RFC 4158 §2.4)', () => {
  let anchorChain: Chain;
  let signer: KeyPair;
  beforeAll(async () => {
    anchorChain = await makeChain(provider, ['ml-dsa-44', 'ml-dsa-44']);
    signer = await provider.generateKeyPair('ed25519');
  });
  const options = (c: Counting, attack: { leaf: Uint8Array; intermediates: Uint8Array[] }) => ({
    provider: c.provider, leaf: attack.leaf, intermediates: attack.intermediates, trustAnchors: [anchorChain.root.certificate],
    now: NOW, hostname: 'localhost', purpose: 'serverAuth' as const,
  });

  it('seven same-name intermediates sharing one RSA-16384 key: refused before any signature is checked', async () => {
    const attack = await lookAlikes(provider, { algorithm: 'rsa', publicKey: rsaPublicKey(16384, E_65537) }, signer, 16384 / 8);
    const c = counting(provider, true);
    const e = await refusal(verifyChain(options(c, attack)));
    expectReason(e, 'bad_public_key');
    expect(e.certificate.subject).toBe(LOOK_ALIKE);
    expect(e.message).toMatch(/16384 bits is over the 8192-bit limit/);
    expect(c.calls).toEqual([]);
  });

  it('the same with the largest RSA key still checked (8192 bits, exponent 2^32-1): stopped by the cost budget', async () => {
    const publicKey = rsaPublicKey(RSA_MAX_VERIFY_BITS, E_MAX);
    const attack = await lookAlikes(provider, { algorithm: 'rsa', publicKey }, signer, RSA_MAX_VERIFY_BITS / 8);
    const cost = signatureVerificationCost(parseCertificate(attack.intermediates[0] as Uint8Array).publicKey);
    // (8192/2048)² × (32 + 32 - 2 multiplications) / 17
    expect(cost).toBe(59);
    const c = counting(provider, true);
    const e = await refusal(verifyChain(options(c, attack)));
    expectReason(e, 'signature_budget_exceeded');
    expect(c.calls).toHaveLength(Math.floor(DEFAULT_CHAIN_LIMITS.maxSignatureCost / cost));
    expect(c.calls.length).toBeLessThan(DEFAULT_CHAIN_LIMITS.maxSignatureChecks);
  });

  it('seven same-name intermediates sharing one real ECDSA P-384 key, every signature valid: charged 29 per check', async () => {
    const p384 = await provider.generateKeyPair('ecdsa-p384');
    const attack = await lookAlikes(provider, { ...p384, algorithm: 'ecdsa-p384' }, p384);
    const c = counting(provider, false);
    const e = await refusal(verifyChain(options(c, attack)));
    expectReason(e, 'signature_budget_exceeded');
    expect(c.calls).toHaveLength(Math.floor(512 / 29));
  });

  it('a leaf with an RSA key over 8192 bits is refused: its key would check the handshake signature', async () => {
    const leaf = await signCertificate({
      provider, subject: 'CN=localhost', subjectKey: { algorithm: 'rsa', publicKey: rsaPublicKey(12288, E_65537) },
      issuer: { name: anchorChain.root.certificate.subject.der, privateKey: anchorChain.root.keyPair.privateKey },
      notBefore: NOT_BEFORE, notAfter: NOT_AFTER, extensions: [subjectAltNameExtension({ dns: ['localhost'] })],
    });
    const c = counting(provider, false);
    const e = await refusal(verifyChain({ ...options(c, { leaf, intermediates: [] }) }));
    expectReason(e, 'bad_public_key');
    expect(e.certificate.index).toBe(0);
    expect(c.calls).toEqual([]);
  });

  it('the costliest legitimate path the other limits allow (eight ECDSA P-384 certificates) fits the default budget', async () => {
    const chain = await makeChain(provider, Array<'ecdsa-p384'>(8).fill('ecdsa-p384'));
    const c = counting(provider, false);
    const result = await verifyChain({
      provider: c.provider, leaf: chain.leaf.certificate.der, intermediates: chain.intermediates.map((i) => i.certificate.der),
      trustAnchors: [chain.root.certificate], now: NOW, hostname: 'localhost', purpose: 'serverAuth',
    });
    expect(result.path).toHaveLength(8);
    expect(c.calls).toHaveLength(7);
    expect(7 * 29).toBeLessThan(DEFAULT_CHAIN_LIMITS.maxSignatureCost);
  });

  it('limits.maxSignatureCost can be lowered, and a path that needs more is refused', async () => {
    const chain = await makeChain(provider, ['ml-dsa-65', 'ml-dsa-65', 'ml-dsa-65']);
    const base = {
      provider, leaf: chain.leaf.certificate.der, intermediates: chain.intermediates.map((i) => i.certificate.der),
      trustAnchors: [chain.root.certificate], now: NOW, hostname: 'localhost', purpose: 'serverAuth' as const,
    };
    await expect(verifyChain({ ...base, limits: { maxSignatureCost: 20 } })).resolves.toBeDefined();
    expectReason(await refusal(verifyChain({ ...base, limits: { maxSignatureCost: 19 } })), 'signature_budget_exceeded');
  });
});
