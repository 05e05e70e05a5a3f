/**
 * Ed25519 (RFC 8032 §5.1, pure, no context) for the TLS `ed25519` scheme.
 * Verification is the strict RFC 8032 §5.1.7 rule set (canonical encodings,
 * S < L), not ZIP-215, so that every implementation agrees on validity.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { ConfigError, IllegalParameterError } from '../../errors.js';
import type { RandomSource } from '../random.js';

export interface Ed25519Key {
  readonly algorithm: 'ed25519';
  /** The 32-byte private key of RFC 8032 §5.1.5 (the seed that is hashed). */
  readonly secret: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function ed25519Import(secret: Uint8Array): Ed25519Key {
  if (secret.length !== 32) throw new ConfigError(`Ed25519 private key must be 32 bytes, got ${secret.length}`);
  return { algorithm: 'ed25519', secret: secret.slice(), publicKey: ed25519.getPublicKey(secret) };
}

export function ed25519Generate(random: RandomSource): Ed25519Key {
  return ed25519Import(random(32));
}

export function ed25519Sign(key: Ed25519Key, message: Uint8Array): Uint8Array {
  return ed25519.sign(message, key.secret);
}

/** Throws {@link IllegalParameterError} unless `publicKey` is a canonical encoding of a curve point. */
export function checkEd25519PublicKey(publicKey: Uint8Array): void {
  if (publicKey.length !== 32) throw new IllegalParameterError(`Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
  try {
    ed25519.Point.fromBytes(publicKey, false);
  } catch {
    throw new IllegalParameterError('Ed25519 public key is not a valid point encoding');
  }
}

export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32) throw new IllegalParameterError(`Ed25519 public key must be 32 bytes, got ${publicKey.length}`);
  let ok = false;
  if (signature.length === 64) {
    try {
      ok = ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      ok = false;
    }
  }
  // noble decodes the key inside verify; only a failure needs telling a bad key from a bad signature.
  if (!ok) checkEd25519PublicKey(publicKey);
  return ok;
}
