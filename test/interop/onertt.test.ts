/**
 * The 1-RTT reader the keyupdate and chacha20 cases rely on
 * (test/interop/runner/onertt.ts), on RFC 9001's own example: Appendix A.5,
 * a ChaCha20-Poly1305 short header packet.
 */
import { describe, expect, it } from 'vitest';
import { keyUpdateSecret, openShortHeader } from './runner/onertt.js';

const SECRET = Buffer.from('9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b', 'hex');
const PACKET = Buffer.from('4cfe4189655e5cd55c41f69080575d7999c25a5bfb', 'hex');

describe('1-RTT packets read with a key log secret (RFC 9001 Appendix A.5)', () => {
  it('removes header protection, recovers packet number 654360564 and authenticates with ChaCha20-Poly1305', () => {
    expect(openShortHeader(PACKET, SECRET, 0, 654360563)).toEqual({
      suite: 'TLS_CHACHA20_POLY1305_SHA256', keyPhase: 0, generation: 0, packetNumber: 654360564,
    });
  });

  it('does not open a packet with one bit flipped, or with the wrong secret', () => {
    const flipped = Buffer.from(PACKET);
    flipped[10] = (flipped[10] as number) ^ 1;
    expect(openShortHeader(flipped, SECRET, 0, 654360563)).toBeUndefined();
    expect(openShortHeader(PACKET, keyUpdateSecret(SECRET), 0, 654360563)).toBeUndefined();
  });

  it('derives the next key phase secret with "quic ku" (RFC 9001 §6.1, A.5)', () => {
    expect(keyUpdateSecret(SECRET).toString('hex')).toBe('1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9');
  });
});
