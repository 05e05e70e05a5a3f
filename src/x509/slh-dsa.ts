/**
 * SLH-DSA in X.509 (RFC 9909): one OID per FIPS 205 parameter set, used alike
 * as the SubjectPublicKeyInfo algorithm, the signature algorithm and the
 * PKCS #8 privateKeyAlgorithm, always with the parameters absent.
 */
import type { SlhDsaAlgorithm } from '../pq/ids.js';
import { Oid } from './oids.js';

export const slhDsaOid: Readonly<Record<SlhDsaAlgorithm, string>> = {
  'slh-dsa-sha2-128s': Oid.slhDsaSha2_128s,
  'slh-dsa-sha2-128f': Oid.slhDsaSha2_128f,
  'slh-dsa-sha2-192s': Oid.slhDsaSha2_192s,
  'slh-dsa-sha2-192f': Oid.slhDsaSha2_192f,
  'slh-dsa-sha2-256s': Oid.slhDsaSha2_256s,
  'slh-dsa-sha2-256f': Oid.slhDsaSha2_256f,
  'slh-dsa-shake-128s': Oid.slhDsaShake128s,
  'slh-dsa-shake-128f': Oid.slhDsaShake128f,
  'slh-dsa-shake-192s': Oid.slhDsaShake192s,
  'slh-dsa-shake-192f': Oid.slhDsaShake192f,
  'slh-dsa-shake-256s': Oid.slhDsaShake256s,
  'slh-dsa-shake-256f': Oid.slhDsaShake256f,
};

export const slhDsaByOid: ReadonlyMap<string, SlhDsaAlgorithm> = new Map(
  Object.entries(slhDsaOid).map(([alg, id]) => [id, alg as SlhDsaAlgorithm]),
);

/** The name FIPS 205 and OpenSSL print: `SLH-DSA-SHA2-128s`. */
export function slhDsaDisplayName(a: SlhDsaAlgorithm): string {
  return a.slice(0, -1).toUpperCase() + a.slice(-1);
}
