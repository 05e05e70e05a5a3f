/**
 * Deterministic test PKIs for the X.509 suites: every key and serial number
 * comes from a seeded provider, every certificate has fixed validity, and
 * `NOW` sits inside it.
 */
import type { KeyAlgorithm } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  generateRoot, issueIntermediate, issueLeaf, type IssuedCertificate, type IssuerCredentials, type LeafOptions,
  type RootOptions,
} from '../../src/x509/index.js';

export const NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
export const NOT_AFTER = new Date('2035-01-01T00:00:00Z');
export const NOW = new Date('2026-06-01T12:00:00Z');

export function testProvider(seed = 'x509 tests'): CryptoProvider {
  return createNobleProvider({ random: seededRandom(seed) });
}

export const creds = (i: IssuedCertificate): IssuerCredentials => ({ certificate: i.certificate, privateKey: i.keyPair.privateKey });

export interface Chain {
  readonly root: IssuedCertificate;
  /** Intermediates, the one under the root first. */
  readonly intermediates: readonly IssuedCertificate[];
  readonly leaf: IssuedCertificate;
}

/**
 * root → intermediates… → leaf with the algorithms given (first is the root's,
 * last the leaf's), a leaf for `localhost` / 127.0.0.1 with serverAuth.
 */
export async function makeChain(
  provider: CryptoProvider, algs: readonly KeyAlgorithm[], options: {
    root?: Partial<RootOptions>;
    intermediate?: Partial<RootOptions>;
    leaf?: Partial<LeafOptions>;
  } = {},
): Promise<Chain> {
  const [rootAlg, ...rest] = algs;
  const leafAlg = rest.pop();
  if (!rootAlg || !leafAlg) throw new Error('makeChain needs at least a root and a leaf algorithm');
  const validity = { notBefore: NOT_BEFORE, notAfter: NOT_AFTER };
  const root = await generateRoot({ provider, algorithm: rootAlg, subject: 'CN=Test Root,O=pqtls', ...validity, ...options.root });
  const intermediates: IssuedCertificate[] = [];
  let issuer = root;
  for (const [i, alg] of rest.entries()) {
    issuer = await issueIntermediate({
      provider, issuer: creds(issuer), algorithm: alg, subject: `CN=Test Intermediate ${i + 1},O=pqtls`, ...validity, ...options.intermediate,
    });
    intermediates.push(issuer);
  }
  const leaf = await issueLeaf({
    provider, issuer: creds(issuer), algorithm: leafAlg, dns: ['localhost'], ip: ['127.0.0.1'], ...validity, ...options.leaf,
  });
  return { root, intermediates, leaf };
}
