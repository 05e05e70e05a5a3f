import type { CryptoProvider } from '../pq/provider.js';
import { parsePacket, type ProtectedPacket } from './header.js';
import { initialKeys } from './keys.js';
import { DEFAULT_VERSION_TABLE, type QuicVersionTable } from './versions.js';
import { openPacket, type OpenedPacket } from './protection.js';
import { InvalidPacketError, QuicTransportError } from './errors.js';

/** RFC 9000 §7.2: the Destination Connection ID of a client's first Initial is at least 8 bytes. */
const MIN_FIRST_DCID_LENGTH = 8;
/** RFC 9000 §14.1: a datagram carrying a client's Initial is at least 1200 bytes. */
const MIN_INITIAL_DATAGRAM = 1200;

/** The first packet of a datagram that could start a connection, once it authenticated. */
export interface FirstInitial {
  readonly packet: ProtectedPacket;
  readonly opened: OpenedPacket;
}

/**
 * Decrypts the first packet of a datagram addressed to no known connection,
 * statelessly: the Initial keys come from the packet's own Destination
 * Connection ID (RFC 9001 §5.2), so a server can tell a client's Initial from
 * bytes that merely look like one before it creates any connection state, and
 * takes the client's connection IDs only from a packet that authenticated.
 * Returns undefined for anything that is not an Initial of a version in `versions` (default v1 and v2) in a datagram of
 * at least 1200 bytes, or that does not decrypt (RFC 9001 §5.5: discarded).
 * `datagram` is not modified.
 */
export async function openFirstInitial(
  provider: CryptoProvider, datagram: Uint8Array, versions: QuicVersionTable = DEFAULT_VERSION_TABLE,
): Promise<FirstInitial | undefined> {
  if (datagram.length < MIN_INITIAL_DATAGRAM) return undefined;
  let packet;
  try {
    // A copy: removing header protection works in place.
    packet = parsePacket(datagram.slice(), 0, { shortDcidLength: MIN_FIRST_DCID_LENGTH, versions }).packet;
  } catch (e) {
    if (e instanceof InvalidPacketError) return undefined;
    throw e;
  }
  if (!('pnOffset' in packet) || packet.type !== 'initial' || !packet.version) return undefined;
  if (packet.dcid.length < MIN_FIRST_DCID_LENGTH) return undefined;
  const keys = await initialKeys(provider, packet.version, packet.dcid);
  try {
    const opened = await openPacket(keys.client, packet, -1);
    return opened ? { packet, opened } : undefined;
  } catch (e) {
    // Non-zero reserved bits in an authenticated packet: a protocol violation from a peer we have no connection with.
    if (e instanceof QuicTransportError) return undefined;
    throw e;
  }
}
