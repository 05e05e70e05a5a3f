/**
 * Random bytes fed to every decoder yield only typed errors: packets are
 * dropped with InvalidPacketError (RFC 9000 §12.2), frames and transport
 * parameters end the connection with a QuicTransportError of the right code,
 * and packet protection reports a failure as null, never by throwing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  AES_128_GCM_SHA256, CHACHA20_POLY1305_SHA256, InvalidPacketError, OneRttKeys, QUIC_V1, QuicTransportError,
  TransportErrorCode, decodeFrames, decodeTransportParameters, deriveDirectionalKeys, encodeFrames, openPacket,
  splitDatagram, verifyRetry,
} from '../../src/quic/index.js';
import { payloadFrames } from './arbitraries.js';
import { seeded } from '../helpers/fc.js';

const provider = createNobleProvider({ random: seededRandom('quic fuzz') });
const packetTypes = ['initial', '0rtt', 'handshake', '1rtt'] as const;
const junk = fc.uint8Array({ minLength: 0, maxLength: 300 });
/** Bytes that start like a long or short header, to get past the first checks more often. */
const headerish = fc.tuple(fc.constantFrom(0xc0, 0xd0, 0xe0, 0xf0, 0x40, 0x80), fc.constantFrom(
  [0, 0, 0, 1], [0x6b, 0x33, 0x43, 0xcf], [0, 0, 0, 0], [0x1a, 0x2a, 0x3a, 0x4a],
), junk).map(([b, v, rest]) => Uint8Array.from([b, ...v, ...rest]));

function onlyTyped(f: () => unknown, ok: (e: unknown) => boolean): void {
  try {
    f();
  } catch (e) {
    if (!ok(e)) throw e;
  }
}

describe('fuzzing the decoders', () => {
  it('the packet parser only ever returns packets or InvalidPacketError', () => {
    fc.assert(fc.property(fc.oneof(junk, headerish), fc.integer({ min: 0, max: 20 }), (bytes, cidLen) => {
      const split = splitDatagram(bytes, { shortDcidLength: cidLen });
      if (split.error) expect(split.error).toBeInstanceOf(InvalidPacketError);
      let total = 0;
      for (const p of split.packets) total += p.bytes.length;
      expect(total).toBeLessThanOrEqual(bytes.length);
    }), seeded(88954, { numRuns: 2000 }));
  });

  it('packet protection returns null for random packets, and Retry verification false', async () => {
    const keys = await deriveDirectionalKeys(provider, QUIC_V1, AES_128_GCM_SHA256, new Uint8Array(32).fill(1));
    const oneRtt = await OneRttKeys.create(provider, QUIC_V1, CHACHA20_POLY1305_SHA256, new Uint8Array(32), new Uint8Array(32).fill(2));
    await fc.assert(fc.asyncProperty(fc.oneof(junk, headerish), async (bytes) => {
      for (const p of splitDatagram(bytes, { shortDcidLength: 4 }).packets) {
        if (p.type === 'retry') expect(await verifyRetry(provider, p, new Uint8Array(8))).toBe(false);
        else if (p.type === '1rtt') expect(await oneRtt.open(p, 10)).toBeNull();
        else if ('pnOffset' in p) expect(await openPacket(keys, p, 10)).toBeNull();
      }
    }), seeded(55594, { numRuns: 500 }));
  });

  it('the frame decoder throws only FRAME_ENCODING_ERROR or PROTOCOL_VIOLATION', () => {
    fc.assert(fc.property(junk, fc.constantFrom(...packetTypes), (bytes, type) => {
      onlyTyped(() => decodeFrames(bytes, type, { maxDatagramFrameSize: 1200 }), (e) => e instanceof QuicTransportError
        && (e.code === TransportErrorCode.FRAME_ENCODING_ERROR || e.code === TransportErrorCode.PROTOCOL_VIOLATION));
    }), seeded(33381, { numRuns: 3000 }));
  });

  it('mutated valid payloads decode or fail with a typed error', () => {
    fc.assert(fc.property(payloadFrames(), fc.nat(), fc.nat(255), (frames, where, value) => {
      const bytes = encodeFrames(frames);
      bytes[where % bytes.length] = value;
      onlyTyped(() => decodeFrames(bytes, '1rtt', { maxDatagramFrameSize: 65535 }), (e) => e instanceof QuicTransportError);
    }), seeded(21, { numRuns: 1000 }));
  });

  it('the transport-parameter decoder throws only TRANSPORT_PARAMETER_ERROR', () => {
    fc.assert(fc.property(junk, fc.constantFrom('client', 'server') as fc.Arbitrary<'client' | 'server'>, (bytes, sender) => {
      onlyTyped(() => decodeTransportParameters(bytes, sender),
        (e) => e instanceof QuicTransportError && e.code === TransportErrorCode.TRANSPORT_PARAMETER_ERROR);
    }), seeded(77807, { numRuns: 2000 }));
  });
});
