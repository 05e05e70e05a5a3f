import { ConfigError } from '../errors.js';
import type { CryptoProvider } from '../pq/provider.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';
import { CertificateCache } from '../x509/certificate-cache.js';
import { decodePem } from '../x509/pem.js';
import { verifyChain, type ChainLimits } from '../x509/verify.js';
import type { CertificateVerifier } from './config.js';
import { isIpAddress } from './handshake/client.js';

export interface WebPkiVerifierOptions {
  readonly provider: CryptoProvider;
  /** Trusted roots: DER certificates or PEM text (bundles allowed). */
  readonly trustAnchors: readonly (Uint8Array | string)[];
  readonly limits?: ChainLimits;
}

/**
 * The standard verifier: validates the peer's chain with `src/x509` against a
 * set of trust anchors (path building, signatures through the provider,
 * validity at the connection's clock, EKU, name constraints) and, for servers,
 * matches the name the client asked for (RFC 9525: DNS names and IP literals).
 */
export function webPkiVerifier(options: WebPkiVerifierOptions): CertificateVerifier {
  const anchors: Certificate[] = [];
  for (const t of options.trustAnchors) {
    if (typeof t === 'string') anchors.push(...decodePem(t).filter((b) => b.label === 'CERTIFICATE').map((b) => parseCertificate(b.bytes)));
    else anchors.push(parseCertificate(t));
  }
  if (anchors.length === 0) throw new ConfigError('webPkiVerifier: no trust anchors');
  // A client meets the same server chain handshake after handshake. The cached
  // certificates never leave this verifier: only a copy of the leaf key does.
  const parseCache = new CertificateCache();
  return {
    async verify(chain, { serverName, purpose, now }) {
      const [leaf, ...intermediates] = chain;
      if (!leaf) throw new ConfigError('empty chain');
      // A server certificate proves nothing without the name it must be valid for (RFC 9525 §6).
      if (purpose === 'serverAuth' && serverName === undefined) throw new ConfigError('serverName is required to verify a server certificate');
      const ip = serverName !== undefined && isIpAddress(serverName);
      const verified = await verifyChain({
        provider: options.provider,
        leaf,
        intermediates,
        trustAnchors: anchors,
        now: new Date(now),
        ...(serverName !== undefined ? (ip ? { ip: serverName } : { hostname: serverName }) : {}),
        purpose,
        limits: options.limits,
        parseCache,
      });
      const key = verified.leaf.publicKey;
      if (key.algorithm === 'unsupported') throw new ConfigError('unreachable: verifyChain accepted an unsupported leaf key');
      return { publicKey: key.publicKey.slice(), keyAlgorithm: key.algorithm, ...(key.rsaPss ? { rsaPss: key.rsaPss } : {}) };
    },
  };
}
