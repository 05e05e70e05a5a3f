/**
 * Version negotiation (RFC 9368, with RFC 9369 for QUIC v2): the
 * version_information transport parameter each side sends, the server's
 * choice of a compatible version from the client's first flight, the client's
 * new attempt after a Version Negotiation packet, and the downgrade checks.
 *
 * Every version of an endpoint's table carries TLS the same way (RFC 9001),
 * so any two of them are compatible in the sense of RFC 9368 §2.2: the server
 * can convert the client's first flight from one to the other.
 */
import { QuicTransportError, TransportErrorCode } from '../errors.js';
import type { VersionInformation } from '../transport-parameters.js';
import type { QuicVersion, QuicVersionTable } from '../versions.js';

/** What an endpoint sends: the version in use and every version it speaks, in preference order (RFC 9368 §3). */
export function versionInformationOf(inUse: QuicVersion, table: QuicVersionTable): VersionInformation {
  return { chosenVersion: inUse.number, availableVersions: [...table.numbers] };
}

function mismatch(message: string): never {
  throw new QuicTransportError(TransportErrorCode.VERSION_NEGOTIATION_ERROR, message);
}

/**
 * The server's choice (RFC 9368 §2.3): its most preferred version among those
 * the client says it speaks, or the client's own when it sends no
 * version_information. Throws VERSION_NEGOTIATION_ERROR when the client's
 * Chosen Version is not the version of its Initial (§4).
 */
export function serverChooseVersion(original: QuicVersion, table: QuicVersionTable, client: VersionInformation | undefined): QuicVersion {
  if (!client) return original;
  if (client.chosenVersion !== original.number) {
    mismatch(`client's chosen version 0x${client.chosenVersion.toString(16)} is not that of its Initial, 0x${original.number.toString(16)}`);
  }
  return table.versions.find((v) => client.availableVersions.includes(v.number)) ?? original;
}

/**
 * The version a client starts over in after a Version Negotiation packet
 * offering `offered` (RFC 9000 §6.2, RFC 9368 §2.1): its most preferred one
 * the server lists, other than the one it tried; undefined if there is none.
 */
export function versionAfterNegotiation(table: QuicVersionTable, tried: QuicVersion, offered: readonly number[]): QuicVersion | undefined {
  return table.versions.find((v) => v !== tried && offered.includes(v.number));
}

/**
 * The client's checks of the server's version_information (RFC 9368 §4): its
 * Chosen Version is the version in use; after a Version Negotiation packet it
 * must be present, and its Available Versions must not hold a version we
 * prefer to the one in use (an attacker's forged Version Negotiation packet
 * would otherwise push us down to a version both sides like less).
 */
export function checkServerVersionInformation(
  inUse: QuicVersion, table: QuicVersionTable, server: VersionInformation | undefined, afterVersionNegotiation: boolean,
): void {
  if (!server) {
    if (afterVersionNegotiation) mismatch('the server sent no version_information after Version Negotiation');
    return;
  }
  if (server.chosenVersion !== inUse.number) {
    mismatch(`server's chosen version 0x${server.chosenVersion.toString(16)} is not the version in use, 0x${inUse.number.toString(16)}`);
  }
  if (afterVersionNegotiation) {
    const wouldChoose = table.versions.find((v) => server.availableVersions.includes(v.number));
    if (wouldChoose !== inUse) mismatch(`the server offers ${wouldChoose?.name ?? 'no version we speak'}, not ${inUse.name}: a downgrade`);
  }
}
