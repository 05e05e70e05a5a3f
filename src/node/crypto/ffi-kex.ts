/**
 * X25519 and ML-KEM key-exchange parts on OpenSSL through koffi
 * (./openssl-pkey.ts), used by the node provider in place of the node:crypto
 * parts of ./kex.ts whenever that binding is available and self-tested, and
 * falling back to them per call otherwise (an OpenSSL without ML-KEM, no
 * koffi, `ffi: false`).
 *
 * The same draws, shares, secrets and errors as the parts they replace:
 * - X25519: with a random source of the caller's, the 32-byte draw is the
 *   private key; on OpenSSL's own generator, OpenSSL makes the pair;
 * - ML-KEM: with a random source of the caller's, the 64-byte draw d ‖ z is
 *   the seed (byte-identical to noble's keygen) and encapsulation stays on the
 *   software part, whose 32-byte message draw must be the caller's; on
 *   OpenSSL's own generator, OpenSSL draws both.
 * Private keys are freed (cleansed by OpenSSL) on `wipe`, which the key-exchange
 * lifecycle calls after `complete` whatever happens, and an encapsulation's at once.
 */
import { ConfigError, IllegalParameterError } from '../../errors.js';
import { requireLength, type KexPart, type PendingShare } from '../../pq/kex-part.js';
import type { MlKemName } from '../../pq/mlkem.js';
import type { RandomSource } from '../../pq/random.js';
import type { NativeKey, OpensslPkey } from './openssl-pkey.js';

/** A pending share around one OpenSSL private key: `complete` derives once; the key is freed after it or on `wipe`. */
function pending(p: OpensslPkey, name: string, key: NativeKey, share: Uint8Array, derive: (key: NativeKey, peer: Uint8Array) => Uint8Array): PendingShare {
  let k: NativeKey | undefined = key;
  return {
    share,
    complete: (serverShare: Uint8Array) => {
      if (!k) throw new ConfigError(`${name} key share was wiped`);
      return derive(k, serverShare);
    },
    wipe: () => {
      if (k) p.free(k);
      k = undefined;
    },
  };
}

function x25519Secret(p: OpensslPkey, key: NativeKey, peerShare: Uint8Array): Uint8Array {
  requireLength(peerShare, 32, 'X25519 share');
  const secret = p.x25519(key, peerShare);
  if (!secret) throw new IllegalParameterError('X25519 share is a low-order point: the shared secret is all-zero (RFC 8446 §7.4.2)');
  return secret;
}

/** X25519 (RFC 7748, RFC 8446 §7.4.2) on the FFI, or `fallback` (./kex.ts's node:crypto part) while `pkey()` is undefined. */
export function ffiX25519Part(pkey: () => OpensslPkey | undefined, ownRandomness: boolean, fallback: KexPart): KexPart {
  const keyPair = (p: OpensslPkey, random: RandomSource): NativeKey => {
    if (ownRandomness) return p.generate('X25519');
    const d = random(32);
    try {
      return p.x25519PrivateKey(d);
    } finally {
      d.fill(0);
    }
  };
  // The same part on the wire as the node:crypto one it falls back to.
  const { name, clientShareLength, serverShareLength, secretLength } = fallback;
  return Object.freeze({
    name, clientShareLength, serverShareLength, secretLength,
    generate(random: RandomSource): PendingShare {
      const p = pkey();
      if (!p) return fallback.generate(random);
      const key = keyPair(p, random);
      return pending(p, 'X25519', key, p.publicKey(key), (k, peer) => x25519Secret(p, k, peer));
    },
    encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array } {
      const p = pkey();
      if (!p) return fallback.encapsulate(clientShare, random);
      // The draw first, then the secret before the share, as noble and the node:crypto part.
      const key = keyPair(p, random);
      try {
        return { secret: x25519Secret(p, key, clientShare), share: p.publicKey(key) };
      } finally {
        p.free(key);
      }
    },
  });
}

/** ML-KEM (FIPS 203, draft-ietf-tls-mlkem) on the FFI, or `fallback` while `pkey()` is undefined. */
export function ffiMlKemPart(pkey: () => OpensslPkey | undefined, name: MlKemName, software: KexPart, ownRandomness: boolean, fallback: KexPart): KexPart {
  const decapsulate = (p: OpensslPkey, key: NativeKey, ciphertext: Uint8Array): Uint8Array => {
    requireLength(ciphertext, software.serverShareLength, `${name} ciphertext`);
    return p.decapsulate(key, ciphertext);
  };
  return Object.freeze({
    name,
    clientShareLength: software.clientShareLength,
    serverShareLength: software.serverShareLength,
    secretLength: 32,
    generate(random: RandomSource): PendingShare {
      const p = pkey();
      if (!p) return fallback.generate(random);
      let key: NativeKey;
      if (ownRandomness) {
        key = p.generate(name);
      } else {
        const seed = random(64);
        try {
          key = p.fromSeed(name, seed);
        } finally {
          seed.fill(0);
        }
      }
      return pending(p, name, key, p.publicKey(key), (k, ct) => decapsulate(p, k, ct));
    },
    encapsulate(clientShare: Uint8Array, random: RandomSource): { share: Uint8Array; secret: Uint8Array } {
      const p = pkey();
      if (!p) return fallback.encapsulate(clientShare, random);
      if (!ownRandomness) return software.encapsulate(clientShare, random);
      requireLength(clientShare, software.clientShareLength, `${name} encapsulation key`);
      const out = p.encapsulate(name, clientShare);
      if (!out) throw new IllegalParameterError(`${name} encapsulation key fails the FIPS 203 §7.2 modulus check`);
      return out;
    },
  });
}
