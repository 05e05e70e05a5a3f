/** RFC 9000 §10.3 Stateless Reset: token derivation, packet layout, sizes and detection. */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  MIN_STATELESS_RESET_LENGTH, encodeStatelessReset, isStatelessReset, parsePacket, statelessResetLength, statelessResetToken,
} from '../../src/quic/index.js';

const provider = createNobleProvider({ random: seededRandom('quic reset') });
const key = seededRandom('static reset key')(32);

describe('stateless reset (RFC 9000 §10.3)', () => {
  it('tokens are a keyed function of the connection ID (§10.3.2)', async () => {
    const a = await statelessResetToken(provider, key, fromHex('0102030405060708'));
    expect(a).toHaveLength(16);
    expect(await statelessResetToken(provider, key, fromHex('0102030405060708'))).toEqual(a);
    expect(await statelessResetToken(provider, key, fromHex('0102030405060709'))).not.toEqual(a);
    expect(await statelessResetToken(provider, seededRandom('other key')(32), fromHex('0102030405060708'))).not.toEqual(a);
    await expect(statelessResetToken(provider, new Uint8Array(16), fromHex('01'))).rejects.toThrow();
  });

  it('looks like a short-header packet and ends with the token', async () => {
    const token = await statelessResetToken(provider, key, fromHex('aa'));
    const reset = encodeStatelessReset(token, seededRandom('unpredictable')(25));
    expect(reset).toHaveLength(41);
    expect(reset[0]! & 0xc0).toBe(0x40);
    expect(reset.subarray(25)).toEqual(token);
    expect(parsePacket(reset, 0, { shortDcidLength: 8 }).packet.type).toBe('1rtt');
    expect(() => encodeStatelessReset(token, new Uint8Array(4))).toThrow();
  });

  it('is smaller than the packet that triggered it, one byte smaller for small ones, never under 21 bytes (§10.3, §10.3.3)', () => {
    expect(statelessResetLength(43)).toBe(42);
    expect(statelessResetLength(22)).toBe(21);
    expect(statelessResetLength(21)).toBeUndefined();
    expect(statelessResetLength(1200)).toBe(43);
    expect(statelessResetLength(1200, 100)).toBe(100);
    expect(MIN_STATELESS_RESET_LENGTH).toBe(21);
  });

  it('is detected by its last 16 bytes against the tokens in use (§10.3.1)', async () => {
    const mine = await statelessResetToken(provider, key, fromHex('01'));
    const other = await statelessResetToken(provider, key, fromHex('02'));
    const reset = encodeStatelessReset(mine, new Uint8Array(30).fill(0x5a));
    expect(isStatelessReset(reset, [other, mine])).toBe(true);
    expect(isStatelessReset(reset, [other])).toBe(false);
    expect(isStatelessReset(reset.subarray(0, 20), [reset.subarray(4, 20)])).toBe(false);
  });
});
