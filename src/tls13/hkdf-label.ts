import { utf8 } from '../bytes.js';
import { Writer } from '../codec/writer.js';
import type { HashAlgorithm } from '../pq/ids.js';
import type { CryptoProvider } from '../pq/provider.js';

/**
 * "tls13 " + label, encoded, for the labels seen so far: a handshake expands
 * about twenty labels from a fixed set, each once per secret. Bounded, since
 * exporter labels come from the application; past the bound labels are
 * encoded on every call.
 */
const LABELS = new Map<string, Uint8Array>();
const MAX_CACHED_LABELS = 64;

function fullLabel(label: string): Uint8Array {
  let b = LABELS.get(label);
  if (!b) {
    b = utf8('tls13 ' + label);
    if (LABELS.size < MAX_CACHED_LABELS) LABELS.set(label, b);
  }
  return b;
}

/** The HkdfLabel structure of RFC 8446 §7.1: length, "tls13 " + label, context. */
export function hkdfLabel(label: string, context: Uint8Array, length: number): Uint8Array {
  return new Writer(10 + label.length + context.length)
    .u16(length)
    .vecBytes(1, fullLabel(label), 7, 255)
    .vecBytes(1, context, 0, 255)
    .finish();
}

/** HKDF-Expand-Label (RFC 8446 §7.1). QUIC uses it too, with labels such as "quic key" (RFC 9001 §5.1). */
export function hkdfExpandLabel(
  provider: CryptoProvider, hash: HashAlgorithm, secret: Uint8Array, label: string, context: Uint8Array, length: number,
): Promise<Uint8Array> {
  return provider.hkdfExpand(hash, secret, hkdfLabel(label, context, length), length);
}

/** Derive-Secret (RFC 8446 §7.1): `transcriptHash` is Transcript-Hash(Messages), already computed. */
export function deriveSecret(
  provider: CryptoProvider, hash: HashAlgorithm, secret: Uint8Array, label: string, transcriptHash: Uint8Array,
): Promise<Uint8Array> {
  return hkdfExpandLabel(provider, hash, secret, label, transcriptHash, transcriptHash.length);
}

/** HKDF-Expand on the calling thread, as a provider may offer it (MaybeSync in src/pq/provider.ts). */
export type ExpandSync = NonNullable<CryptoProvider['hkdfExpand']['sync']>;

/** {@link deriveSecret} through a synchronous HKDF-Expand: the same bytes, no promise. */
export function deriveSecretSync(expand: ExpandSync, hash: HashAlgorithm, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Uint8Array {
  return expand(hash, secret, hkdfLabel(label, transcriptHash, transcriptHash.length), transcriptHash.length);
}
