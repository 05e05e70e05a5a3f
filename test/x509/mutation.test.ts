/**
 * Random mutations of valid certificates never make the parser or the
 * validator throw anything but CertificateError: no RangeError from a bad
 * length, no TypeError from a missing field, no provider exception leaking.
 */
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { CertificateError, parseCertificate, parsePkcs8, verifyChain, decodePem, exportPrivateKeyPem } from '../../src/x509/index.js';
import { NOW, makeChain, testProvider, type Chain } from './pki.js';

const provider = testProvider('mutations');

/** One edit to a byte string: flip, overwrite, delete, insert, truncate, or bump a length byte. */
const mutation = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(der: Uint8Array, edits: readonly Mutation[]): Uint8Array {
  let out = der.slice();
  for (const m of edits) {
    const at = out.length ? m.at % out.length : 0;
    switch (m.op) {
      case 'flip': if (out.length) out[at] = (out[at] as number) ^ m.mask; break;
      case 'set': out.set(m.bytes.subarray(0, out.length - at), at); break;
      case 'delete': out = new Uint8Array([...out.subarray(0, at), ...out.subarray(at + m.n)]); break;
      case 'insert': out = new Uint8Array([...out.subarray(0, at), ...m.bytes, ...out.subarray(at)]); break;
      case 'truncate': out = out.slice(0, at); break;
    }
  }
  return out;
}

/** Mutations concentrated on the first 200 bytes, where the lengths, names and algorithm identifiers sit. */
const headEdits = fc.array(mutation.map((m) => ({ ...m, at: m.at % 200 })), { minLength: 1, maxLength: 3 });
const anyEdits = fc.array(mutation, { minLength: 1, maxLength: 3 });

function onlyCertificateErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof CertificateError)) throw e;
  }
}

describe('mutated certificates', () => {
  let chains: Chain[];
  beforeAll(async () => {
    chains = [
      await makeChain(provider, ['ml-dsa-44', 'ml-dsa-44', 'ml-dsa-44']),
      await makeChain(provider, ['ecdsa-p256', 'ed25519', 'ecdsa-p384']),
    ];
  });

  it('parseCertificate throws only CertificateError', () => {
    for (const chain of chains) {
      for (const der of [chain.leaf.certificate.der, chain.intermediates[0]?.certificate.der as Uint8Array]) {
        fc.assert(fc.property(fc.oneof(headEdits, anyEdits), (edits) => onlyCertificateErrors(() => parseCertificate(apply(der, edits)))), seeded(9881, { numRuns: 400 }));
      }
    }
  });

  it('verifyChain rejects only with CertificateError, and never accepts a changed leaf', async () => {
    for (const chain of chains) {
      const leaf = chain.leaf.certificate.der;
      await fc.assert(fc.asyncProperty(fc.oneof(headEdits, anyEdits), async (edits) => {
        const mutated = apply(leaf, edits);
        const outcome = await verifyChain({
          provider, leaf: mutated, intermediates: chain.intermediates.map((i) => i.certificate.der), trustAnchors: [chain.root.certificate],
          now: NOW, hostname: 'localhost', purpose: 'serverAuth',
        }).then(() => 'accepted', (e: unknown) => e);
        if (outcome === 'accepted') {
          // Only an edit that leaves the signed bytes and the signature as they were may pass.
          const back = parseCertificate(mutated);
          expect(back.tbs).toEqual(chain.leaf.certificate.tbs);
          expect(back.signature).toEqual(chain.leaf.certificate.signature);
        } else if (!(outcome instanceof CertificateError)) {
          throw outcome;
        }
      }), seeded(9525, { numRuns: 150 }));
    }
  });

  it('mutated intermediates are refused with CertificateError only', async () => {
    const chain = chains[0] as Chain;
    const inter = chain.intermediates[0]?.certificate.der as Uint8Array;
    await fc.assert(fc.asyncProperty(anyEdits, async (edits) => {
      const outcome = await verifyChain({
        provider, leaf: chain.leaf.certificate.der, intermediates: [apply(inter, edits)], trustAnchors: [chain.root.certificate], now: NOW, purpose: 'serverAuth',
      }).then(() => 'accepted', (e: unknown) => e);
      if (outcome !== 'accepted' && !(outcome instanceof CertificateError)) throw outcome;
    }), seeded(5280, { numRuns: 100 }));
  });

  it('mutated PKCS #8 keys throw only CertificateError from the parser', async () => {
    for (const alg of ['ml-dsa-65', 'ecdsa-p256', 'ed25519'] as const) {
      const pair = await provider.generateKeyPair(alg);
      const der = decodePem(await exportPrivateKeyPem(provider, pair.privateKey))[0]?.bytes as Uint8Array;
      fc.assert(fc.property(anyEdits, (edits) => onlyCertificateErrors(() => parsePkcs8(apply(der, edits)))), seeded(5958, { numRuns: 300 }));
    }
  });
});
