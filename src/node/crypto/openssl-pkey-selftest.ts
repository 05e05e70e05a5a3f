/**
 * The known-answer test ./openssl-pkey.ts must pass before the node provider
 * uses it. Every expected value is a constant (long outputs as their SHA-256),
 * computed with @noble/post-quantum and checked against OpenSSL 3.5 when
 * written; test/node/openssl-pkey.test.ts recomputes them with noble.
 * - X25519: RFC 7748 §6.1 both ways, and a low-order point refused;
 * - ML-KEM-768: key generation from a seed (the encapsulation key), encapsulation
 *   on a fixed message (ciphertext and secret), decapsulation of that
 *   ciphertext, and of a corrupted one (FIPS 203 implicit rejection, J(z ‖ c));
 *   a round trip on OpenSSL's own randomness;
 * - ML-DSA-65: key generation from a seed, a deterministic signature, its
 *   verification, a flipped bit refused, and a hedged signature verified.
 */
import { createHash } from 'node:crypto';
import type { OpensslPkey } from './openssl-pkey.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** Bytes i·a + c (mod 256): fixed inputs without long constants. */
export const pattern = (n: number, a: number, c: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * a + c) & 0xff);

/** RFC 7748 §6.1. */
export const X25519_VECTOR = {
  alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  bobPrivate: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
  bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
} as const;

/** ML-KEM-768: seed d ‖ z = pattern(64, 1, 0), message m = pattern(32, 3, 1), a corrupted ciphertext pattern(1088, 31, 7). */
export const ML_KEM_VECTOR = {
  seed: pattern(64, 1, 0),
  m: pattern(32, 3, 1),
  ekSha256: '0b7934c83125c788995e2ba6bd761e33046b3e40571be53e023309a29f398cc9',
  ctSha256: '7d34c8db9b89fd7ad1751b85b4f47a27ace8b20d39b333a1d6375ff7cfbbec57',
  secret: '4196f9d1f70a7fc16d9374f6d2cac7777b8fb7bfde3954392e07790cb29359f8',
  rejected: pattern(1088, 31, 7),
  rejectedSecret: '5e1fd352284f81d4530089a5e0813c18e85a427d64c043da4eccf75bfd2c4822',
} as const;

/** ML-DSA-65: seed ξ = pattern(32, 5, 2), the message below, deterministic signing (rnd = 0³², FIPS 204 §3.4), empty context. */
export const ML_DSA_VECTOR = {
  seed: pattern(32, 5, 2),
  message: Uint8Array.from(Buffer.from('pqtls OpenSSL ML-DSA self-test')),
  pkSha256: '1a82136591ee5efd366157eb4baff78a5ea98faa79cd690af7888bf7ff585a18',
  sigSha256: '1eb5ec5ea7798ccdf5facc4cda215968adb2761e045afa05c1cfc558adfea413',
} as const;

/** Runs the known-answer tests; the first failure, or undefined. */
export function pkeySelfTest(p: OpensslPkey): string | undefined {
  const x = X25519_VECTOR;
  const alice = p.x25519PrivateKey(hex(x.alicePrivate));
  const bob = p.x25519PrivateKey(hex(x.bobPrivate));
  try {
    if (!same(p.publicKey(alice), hex(x.alicePublic)) || !same(p.publicKey(bob), hex(x.bobPublic))) return 'X25519 public key';
    const ab = p.x25519(alice, hex(x.bobPublic));
    const ba = p.x25519(bob, hex(x.alicePublic));
    if (!ab || !ba || !same(ab, hex(x.shared)) || !same(ba, hex(x.shared))) return 'X25519 shared secret';
    // u = 0 and u = 1 are of small order: the secret would be all zero (RFC 7748 §6.1, RFC 8446 §7.4.2).
    const one = new Uint8Array(32);
    one[0] = 1;
    if (p.x25519(alice, new Uint8Array(32)) !== undefined || p.x25519(alice, one) !== undefined) return 'X25519 accepted a low-order point';
    const mine = p.generate('X25519');
    const shared = p.x25519(mine, hex(x.bobPublic));
    const back = p.x25519(bob, p.publicKey(mine));
    p.free(mine);
    if (!shared || !back || !same(shared, back)) return 'X25519 generated key';
  } finally {
    p.free(alice);
    p.free(bob);
  }

  const k = ML_KEM_VECTOR;
  const dk = p.fromSeed('ML-KEM-768', k.seed);
  try {
    const ek = p.publicKey(dk);
    if (sha256(ek) !== k.ekSha256) return 'ML-KEM-768 key generation from a seed';
    const fixed = p.encapsulate('ML-KEM-768', ek, k.m);
    if (!fixed || sha256(fixed.share) !== k.ctSha256 || !same(fixed.secret, hex(k.secret))) return 'ML-KEM-768 encapsulation';
    if (!same(p.decapsulate(dk, fixed.share), hex(k.secret))) return 'ML-KEM-768 decapsulation';
    if (!same(p.decapsulate(dk, k.rejected), hex(k.rejectedSecret))) return 'ML-KEM-768 implicit rejection';
    const drawn = p.encapsulate('ML-KEM-768', ek);
    if (!drawn || !same(p.decapsulate(dk, drawn.share), drawn.secret) || same(drawn.share, fixed.share)) return 'ML-KEM-768 round trip';
    // FIPS 203 §7.2: the first 12-bit coefficient set to 4095 ≥ q.
    const bad = ek.slice();
    bad[0] = 0xff;
    bad[1] = (bad[1] as number) | 0x0f;
    if (p.encapsulate('ML-KEM-768', bad) !== undefined) return 'ML-KEM-768 accepted a key failing the modulus check';
  } finally {
    p.free(dk);
  }

  const d = ML_DSA_VECTOR;
  const sk = p.fromSeed('ml-dsa-65', d.seed);
  try {
    const pk = p.publicKey(sk);
    if (sha256(pk) !== d.pkSha256) return 'ML-DSA-65 key generation from a seed';
    const sig = p.sign('ml-dsa-65', sk, d.message, true);
    if (sha256(sig) !== d.sigSha256) return 'ML-DSA-65 deterministic signature';
    if (!p.verify('ml-dsa-65', pk, d.message, sig)) return 'ML-DSA-65 verification';
    sig[100] = (sig[100] as number) ^ 1;
    if (p.verify('ml-dsa-65', pk, d.message, sig)) return 'ML-DSA-65 accepted a forged signature';
    const hedged = p.sign('ml-dsa-65', sk, d.message);
    if (!p.verify('ml-dsa-65', pk, d.message, hedged)) return 'ML-DSA-65 hedged signature';
  } finally {
    p.free(sk);
  }
  return undefined;
}
