/** RFC 9001 §5.8 Retry Integrity Tag for v1 and v2 (RFC 9369 §3.3.3), beyond the Appendix A vectors. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { QUIC_V1, QUIC_V2, encodeRetry, parsePacket, verifyRetry, type RetryPacket } from '../../src/quic/index.js';
import { seeded } from '../helpers/fc.js';

const provider = createNobleProvider({ random: seededRandom('quic retry') });
const cid = fc.uint8Array({ maxLength: 20 });

describe.each([['v1', QUIC_V1], ['v2', QUIC_V2]] as const)('Retry %s', (_n, version) => {
  it('round-trips: what encodeRetry builds parses and verifies against the original DCID only', async () => {
    await fc.assert(fc.asyncProperty(cid, cid, fc.uint8Array({ minLength: 1, maxLength: 64 }), cid, fc.nat(15),
      async (dcid, scid, token, odcid, unused) => {
        const bytes = await encodeRetry(provider, { version, dcid, scid, token, unused }, odcid);
        const { packet } = parsePacket(bytes, 0, { shortDcidLength: 0 });
        expect(packet.type).toBe('retry');
        const retry = packet as RetryPacket;
        expect(toHex(retry.token)).toBe(toHex(token));
        expect(toHex(retry.scid)).toBe(toHex(scid));
        expect(await verifyRetry(provider, retry, odcid)).toBe(true);
        const other = new Uint8Array([...odcid, 0]);
        expect(await verifyRetry(provider, retry, other)).toBe(false);
      }), seeded(17848, { numRuns: 50 }));
  });

  it('any flipped bit in the token or tag fails the check', async () => {
    const odcid = new Uint8Array(8).fill(7);
    const bytes = await encodeRetry(provider, { version, dcid: new Uint8Array(4), scid: new Uint8Array(8), token: new Uint8Array(20) }, odcid);
    for (let i = 1 + 4 + 1 + 4 + 1 + 8; i < bytes.length; i += 3) {
      const copy = bytes.slice();
      copy[i] = copy[i]! ^ 0x10;
      const { packet } = parsePacket(copy, 0, { shortDcidLength: 0 });
      expect(await verifyRetry(provider, packet as RetryPacket, odcid)).toBe(false);
    }
  });

  it("the other version's key does not verify it", async () => {
    const odcid = new Uint8Array(8);
    const bytes = await encodeRetry(provider, { version, dcid: new Uint8Array(0), scid: new Uint8Array(8), token: new Uint8Array(3) }, odcid);
    const { packet } = parsePacket(bytes, 0, { shortDcidLength: 0 });
    const other = version === QUIC_V1 ? QUIC_V2 : QUIC_V1;
    expect(await verifyRetry(provider, { ...(packet as RetryPacket), version: other }, odcid)).toBe(false);
  });

  it('refuses to build a Retry with an empty token (RFC 9000 §17.2.5.2)', async () => {
    await expect(encodeRetry(provider, { version, dcid: new Uint8Array(0), scid: new Uint8Array(0), token: new Uint8Array(0) }, new Uint8Array(8))).rejects.toThrow();
  });
});
