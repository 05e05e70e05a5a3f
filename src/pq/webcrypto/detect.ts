/**
 * What this runtime's SubtleCrypto offers beyond the algorithms every
 * supported runtime has (AES-GCM, HMAC, ECDH and ECDSA on P-256/P-384,
 * RSA-PSS, RSASSA-PKCS1-v1_5): X25519 and Ed25519 arrived late and unevenly
 * (Node 20 has them, Chromium since 133, Safari 17, Firefox 129, workerd,
 * Deno, Bun). They are detected by trying, once per SubtleCrypto: each must
 * import a known key and reproduce its RFC's test vector, so a runtime that
 * names the algorithm but computes something else is not trusted with it.
 */
import { fromHex } from '../../bytes.js';
import { buf } from './symmetric.js';

export interface SubtleFeatures {
  readonly x25519: boolean;
  readonly ed25519: boolean;
}

/** PKCS #8 PrivateKeyInfo for an RFC 8410 key: version 0, the OID, the 32-byte key in an OCTET STRING in an OCTET STRING. */
export function okpPkcs8(curve: 'X25519' | 'Ed25519', secret: Uint8Array): Uint8Array<ArrayBuffer> {
  const prefix = fromHex(`302e020100300506032b65${curve === 'X25519' ? '6e' : '70'}04220420`);
  const out = new Uint8Array(prefix.length + 32);
  out.set(prefix);
  out.set(secret, prefix.length);
  return out;
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** RFC 7748 §6.1: Alice's private key, Bob's public key, their shared secret. */
async function tryX25519(subtle: SubtleCrypto): Promise<boolean> {
  const alice = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const bob = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = fromHex('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  const priv = await subtle.importKey('pkcs8', okpPkcs8('X25519', alice), { name: 'X25519' }, true, ['deriveBits']);
  const pub = await subtle.importKey('raw', buf(bob), { name: 'X25519' }, false, []);
  const bits = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: pub }, priv, 256));
  // The private key's JWK carries the public half: the provider reads its key shares from there.
  const jwk = await subtle.exportKey('jwk', priv);
  return equal(bits, shared) && typeof jwk.x === 'string' && jwk.x === 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo';
}

/** RFC 8032 §7.1 TEST 1: the empty message's signature, and its verification. */
async function tryEd25519(subtle: SubtleCrypto): Promise<boolean> {
  const secret = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const pk = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig = fromHex('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b');
  const priv = await subtle.importKey('pkcs8', okpPkcs8('Ed25519', secret), { name: 'Ed25519' }, false, ['sign']);
  const pub = await subtle.importKey('raw', buf(pk), { name: 'Ed25519' }, false, ['verify']);
  const made = new Uint8Array(await subtle.sign({ name: 'Ed25519' }, priv, new Uint8Array(0)));
  return equal(made, sig) && (await subtle.verify({ name: 'Ed25519' }, pub, buf(sig), new Uint8Array(0)));
}

const attempt = (f: () => Promise<boolean>): Promise<boolean> => f().catch(() => false);

const cache = new WeakMap<SubtleCrypto, Promise<SubtleFeatures>>();

/** The features of `subtle`, tried on first call and remembered for its lifetime. */
export function subtleFeatures(subtle: SubtleCrypto): Promise<SubtleFeatures> {
  let f = cache.get(subtle);
  if (!f) {
    f = Promise.all([attempt(() => tryX25519(subtle)), attempt(() => tryEd25519(subtle))]).then(([x25519, ed25519]) => ({ x25519, ed25519 }));
    cache.set(subtle, f);
  }
  return f;
}
