/** RFC 9000 §18 transport parameters, with RFC 9368 version_information, RFC 9287 grease_quic_bit and RFC 9221. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, fromHex } from '../../src/bytes.js';
import { Writer } from '../../src/codec/writer.js';
import {
  DEFAULT_TRANSPORT_PARAMETERS, QuicTransportError, TransportErrorCode, decodeTransportParameters,
  encodeTransportParameters, type TransportParameters,
} from '../../src/quic/index.js';
import { seeded } from '../helpers/fc.js';

const param = (id: number, value: Uint8Array): Uint8Array => new Writer().varint(id).varintBytes(value).finish();
const int = (id: number, v: number): Uint8Array => param(id, new Writer().varint(v).finish());
const codeOf = (data: Uint8Array, sender: 'client' | 'server' = 'server'): number | undefined => {
  try {
    decodeTransportParameters(data, sender);
  } catch (e) {
    if (e instanceof QuicTransportError) return e.code;
    throw e;
  }
  return undefined;
};

const cid = fc.uint8Array({ minLength: 0, maxLength: 20 });
const limit = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const serverParams: fc.Arbitrary<TransportParameters> = fc.record({
  originalDestinationConnectionId: fc.option(cid, { nil: undefined }),
  maxIdleTimeout: limit,
  statelessResetToken: fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 }), { nil: undefined }),
  maxUdpPayloadSize: fc.integer({ min: 1200, max: 65527 }),
  initialMaxData: limit,
  initialMaxStreamDataBidiLocal: limit,
  initialMaxStreamDataBidiRemote: limit,
  initialMaxStreamDataUni: limit,
  initialMaxStreamsBidi: limit,
  initialMaxStreamsUni: limit,
  ackDelayExponent: fc.integer({ min: 0, max: 20 }),
  maxAckDelay: fc.integer({ min: 0, max: 2 ** 14 - 1 }),
  disableActiveMigration: fc.boolean(),
  preferredAddress: fc.option(fc.record({
    ipv4Address: fc.uint8Array({ minLength: 4, maxLength: 4 }), ipv4Port: fc.integer({ min: 0, max: 65535 }),
    ipv6Address: fc.uint8Array({ minLength: 16, maxLength: 16 }), ipv6Port: fc.integer({ min: 0, max: 65535 }),
    connectionId: fc.uint8Array({ minLength: 1, maxLength: 20 }), statelessResetToken: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  }), { nil: undefined }),
  activeConnectionIdLimit: fc.integer({ min: 2, max: 2 ** 40 }),
  initialSourceConnectionId: fc.option(cid, { nil: undefined }),
  retrySourceConnectionId: fc.option(cid, { nil: undefined }),
  versionInformation: fc.option(fc.record({
    chosenVersion: fc.integer({ min: 1, max: 0xffffffff }),
    availableVersions: fc.array(fc.integer({ min: 1, max: 0xffffffff }), { maxLength: 5 }),
  }), { nil: undefined }),
  maxDatagramFrameSize: fc.option(limit, { nil: undefined }),
  greaseQuicBit: fc.boolean(),
}, { requiredKeys: [] }).map((p) => ({ ...DEFAULT_TRANSPORT_PARAMETERS, ...stripUndefined(p) }));

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

describe('transport parameters (RFC 9000 §18)', () => {
  it('every parameter round-trips', () => {
    fc.assert(fc.property(serverParams, (p) => {
      expect(decodeTransportParameters(encodeTransportParameters(p), 'server')).toEqual(p);
    }), seeded(7025, { numRuns: 300 }));
  });

  it('absent parameters take the §18.2 defaults', () => {
    expect(decodeTransportParameters(new Uint8Array(0), 'client')).toEqual(DEFAULT_TRANSPORT_PARAMETERS);
    expect(DEFAULT_TRANSPORT_PARAMETERS).toMatchObject({ maxUdpPayloadSize: 65527, ackDelayExponent: 3, maxAckDelay: 25, activeConnectionIdLimit: 2 });
  });

  it('unknown and reserved (31·N+27) parameters are skipped (§18.1)', () => {
    const data = concat(param(31 * 5 + 27, fromHex('deadbeef')), int(0x04, 1000), param(0x3fff_ffff, new Uint8Array(3)));
    expect(decodeTransportParameters(data, 'client').initialMaxData).toBe(1000);
    const withExtra = encodeTransportParameters({ initialMaxData: 5 }, [{ id: 31 * 7 + 27, value: fromHex('00') }]);
    expect(decodeTransportParameters(withExtra, 'client').initialMaxData).toBe(5);
  });

  it('version_information, grease_quic_bit and max_datagram_frame_size use their registered IDs', () => {
    const p = decodeTransportParameters(concat(
      param(0x11, fromHex('6b3343cf' + '6b3343cf' + '00000001')), param(0x2ab2, new Uint8Array(0)), int(0x20, 1200),
    ), 'server');
    expect(p.versionInformation).toEqual({ chosenVersion: 0x6b3343cf, availableVersions: [0x6b3343cf, 1] });
    expect(p.greaseQuicBit).toBe(true);
    expect(p.maxDatagramFrameSize).toBe(1200);
  });

  it.each([
    ['a duplicate parameter (§7.4)', concat(int(0x04, 1), int(0x04, 1))],
    ['a duplicate unknown parameter', concat(param(0x99, new Uint8Array(0)), param(0x99, new Uint8Array(0)))],
    ['max_udp_payload_size below 1200', int(0x03, 1199)],
    ['ack_delay_exponent above 20', int(0x0a, 21)],
    ['max_ack_delay of 2^14', int(0x0b, 2 ** 14)],
    ['active_connection_id_limit below 2', int(0x0e, 1)],
    ['initial_max_streams_bidi above 2^60', param(0x08, fromHex('d000000000000001'))],
    ['an integer with trailing bytes', param(0x04, fromHex('0100'))],
    ['a truncated parameter list', fromHex('0405')],
    ['a 15-byte stateless_reset_token', param(0x02, new Uint8Array(15))],
    ['a non-empty disable_active_migration', param(0x0c, fromHex('00'))],
    ['a non-empty grease_quic_bit', param(0x2ab2, fromHex('00'))],
    ['a 21-byte initial_source_connection_id', param(0x0f, new Uint8Array(21))],
    ['a preferred_address with an empty connection ID', param(0x0d, concat(new Uint8Array(24), fromHex('00'), new Uint8Array(16)))],
    ['version_information of 6 bytes', param(0x11, new Uint8Array(6))],
    ['version_information choosing version 0', param(0x11, new Uint8Array(4))],
  ])('rejects %s with TRANSPORT_PARAMETER_ERROR', (_n, data) => {
    expect(codeOf(data)).toBe(TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
  });

  it.each([
    ['original_destination_connection_id', param(0x00, fromHex('01'))],
    ['stateless_reset_token', param(0x02, new Uint8Array(16))],
    ['preferred_address', param(0x0d, concat(new Uint8Array(24), fromHex('01aa'), new Uint8Array(16)))],
    ['retry_source_connection_id', param(0x10, fromHex('01'))],
  ])('a server rejects the server-only %s from a client (§18.2)', (_n, data) => {
    expect(codeOf(data, 'client')).toBe(TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
    expect(codeOf(data, 'server')).toBeUndefined();
  });

  it('limits above 2^53-1 saturate', () => {
    expect(decodeTransportParameters(param(0x04, fromHex('ffffffffffffffff')), 'client').initialMaxData).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses to encode invalid values', () => {
    expect(() => encodeTransportParameters({ ackDelayExponent: 21 })).toThrow();
    expect(() => encodeTransportParameters({ statelessResetToken: new Uint8Array(3) })).toThrow();
  });
});
