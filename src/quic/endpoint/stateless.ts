import type { CryptoProvider } from '../../pq/provider.js';
import type { FirstInitial } from '../first-initial.js';
import { decodeFrames } from '../frames/decode.js';
import { encodeFrames } from '../frames/encode.js';
import { initialKeys } from '../keys.js';
import { sealPacket } from '../protection.js';
import type { QuicVersion } from '../versions.js';

/**
 * Whether a client's authenticated Initial carries the start of its
 * ClientHello (a CRYPTO frame at offset 0), the one packet of a connection
 * attempt a Retry answers.
 *
 * RFC 9000 §17.2.5.1 lets a server send a Retry per Initial it receives, and
 * §17.2.5.2 has the client process only the first: so a ClientHello that
 * spans two datagrams (a hybrid post-quantum key share, a small path MTU) drew
 * two Retries, the second one wasted bytes towards an unvalidated address.
 * Remembering which attempts were answered would be state per unvalidated
 * address, what Retry exists to avoid (quinn-proto's older `Endpoint` answered
 * every token-less Initial; its newer one holds the first datagrams of an
 * attempt in a bounded buffer until the application decides). What a single
 * datagram tells statelessly is enough: only the packet with CRYPTO offset 0
 * starts an attempt. Its followers carry later offsets; dropping them loses
 * nothing, since after the Retry the client sends all its Initial data again
 * with the token (§17.2.5.2), and if the first datagram was lost the client's
 * retransmission (which starts at offset 0 again) gets the Retry.
 */
export function startsClientHello(first: FirstInitial): boolean {
  try {
    return decodeFrames(first.opened.payload, 'initial').some((f) => f.type === 'crypto' && f.offset === 0);
  } catch {
    return false; // frames that do not decode would close a connection: there is none to close, so nothing is sent
  }
}

/**
 * A server Initial packet carrying CONNECTION_CLOSE with transport error
 * `code`, for a client Initial the server refuses without creating any state
 * (RFC 9000 §8.1.2: a Retry token that fails validation gets INVALID_TOKEN;
 * §10.2.3: before the handshake a close goes in an Initial). Protected with
 * the Initial keys of the client's Destination Connection ID, so the client
 * can read it; sent to the client's Source Connection ID, from a fresh one.
 * Smaller than the datagram that triggers it: no amplification.
 */
export async function initialClose(
  provider: CryptoProvider, version: QuicVersion, client: { readonly dcid: Uint8Array; readonly scid: Uint8Array }, code: number,
): Promise<Uint8Array> {
  const keys = await initialKeys(provider, version, client.dcid);
  const payload = encodeFrames([{ type: 'connection_close', application: false, errorCode: code, frameType: 0, reason: new Uint8Array(0) }]);
  const scid = await provider.random(8);
  return sealPacket(keys.server, { type: 'initial', version, dcid: client.scid, scid }, payload, { packetNumber: 0 });
}
