import type { AeadKey, CryptoProvider, HeaderProtectionKey } from '../../src/pq/provider.js';

/**
 * A provider whose symmetric keys only have the promise-returning operations,
 * as a device or SubtleCrypto backend has: the synchronous fast paths must
 * give the same bytes as the paths such a provider takes.
 */
export function promisesOnly(p: CryptoProvider): CryptoProvider {
  return {
    ...p,
    aead: async (alg, key) => {
      const k = await p.aead(alg, key);
      const bare: AeadKey = { algorithm: k.algorithm, tagLength: 16, nonceLength: 12, seal: (n, a, m) => k.seal(n, a, m), open: (n, a, c) => k.open(n, a, c) };
      return bare;
    },
    headerProtection: async (alg, key) => {
      const k = await p.headerProtection(alg, key);
      const bare: HeaderProtectionKey = { algorithm: k.algorithm, mask: (s) => k.mask(s) };
      return bare;
    },
  };
}
