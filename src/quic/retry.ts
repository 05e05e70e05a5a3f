import { ConfigError } from '../errors.js';
import type { CryptoProvider } from '../pq/provider.js';
import { MAX_CID_LENGTH, TAG_LENGTH, type RetryPacket } from './header.js';
import type { QuicVersion } from './versions.js';

/** Fields of a Retry packet a server sends (RFC 9000 §17.2.5). */
export interface RetryFields {
  readonly version: QuicVersion;
  /** The client's Source Connection ID. */
  readonly dcid: Uint8Array;
  /** The connection ID the server picks; the client will use it as its next Destination Connection ID. */
  readonly scid: Uint8Array;
  /** The address-validation token; must not be empty (RFC 9000 §17.2.5.2). */
  readonly token: Uint8Array;
  /** The four arbitrary low bits of the first byte. */
  readonly unused?: number;
}

/** The Retry Pseudo-Packet (RFC 9001 §5.8): the original DCID, length-prefixed, then the Retry packet without its tag. */
function pseudoPacket(originalDcid: Uint8Array, retryWithoutTag: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + originalDcid.length + retryWithoutTag.length);
  out[0] = originalDcid.length;
  out.set(originalDcid, 1);
  out.set(retryWithoutTag, 1 + originalDcid.length);
  return out;
}

function retryNonce(v: QuicVersion): Uint8Array {
  // A fresh copy each time: the provider may hold on to the nonce it is given.
  return v.retryNonce.slice();
}

/**
 * Builds a Retry packet with its integrity tag (RFC 9001 §5.8): AES-128-GCM
 * under the version's fixed key and nonce, over the pseudo-packet, with an
 * empty plaintext. `originalDcid` is the Destination Connection ID of the
 * client's Initial.
 */
export async function encodeRetry(provider: CryptoProvider, f: RetryFields, originalDcid: Uint8Array): Promise<Uint8Array> {
  if (f.token.length === 0) throw new ConfigError('Retry token must not be empty');
  for (const cid of [f.dcid, f.scid, originalDcid]) {
    if (cid.length > MAX_CID_LENGTH) throw new ConfigError(`connection ID longer than ${MAX_CID_LENGTH} bytes`);
  }
  const headerLen = 7 + f.dcid.length + f.scid.length;
  const out = new Uint8Array(headerLen + f.token.length + TAG_LENGTH);
  const v = f.version.number;
  out[0] = 0xc0 | (f.version.longTypeCodes.retry << 4) | ((f.unused ?? 0) & 0x0f);
  out[1] = v >>> 24;
  out[2] = (v >>> 16) & 0xff;
  out[3] = (v >>> 8) & 0xff;
  out[4] = v & 0xff;
  out[5] = f.dcid.length;
  out.set(f.dcid, 6);
  out[6 + f.dcid.length] = f.scid.length;
  out.set(f.scid, 7 + f.dcid.length);
  out.set(f.token, headerLen);
  const body = out.subarray(0, headerLen + f.token.length);
  const aead = await provider.aead('AES-128-GCM', f.version.retryKey);
  const tag = await aead.seal(retryNonce(f.version), pseudoPacket(originalDcid, body), new Uint8Array(0));
  out.set(tag, body.length);
  return out;
}

/**
 * Checks a received Retry's integrity tag against the Destination Connection
 * ID the client put in its first Initial (RFC 9001 §5.8). A client discards a
 * Retry for which this is false (RFC 9000 §17.2.5.2).
 */
export async function verifyRetry(provider: CryptoProvider, retry: RetryPacket, originalDcid: Uint8Array): Promise<boolean> {
  if (originalDcid.length > 255) return false;
  const body = retry.bytes.subarray(0, retry.bytes.length - TAG_LENGTH);
  const aead = await provider.aead('AES-128-GCM', retry.version.retryKey);
  // Opening the tag as a ciphertext of the empty plaintext checks it in constant time.
  const opened = await aead.open(retryNonce(retry.version), pseudoPacket(originalDcid, body), retry.integrityTag);
  return opened !== null;
}
