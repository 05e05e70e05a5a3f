/**
 * Stream ID arithmetic (RFC 9000 §2.1): the least significant bit tells who
 * opened the stream (0 client, 1 server), the second bit its direction
 * (0 bidirectional, 1 unidirectional); the rest is the stream's sequence
 * number within its type.
 */

export type Role = 'client' | 'server';

/** Whether the peer of `role` opened stream `id`. */
export function isLocallyInitiated(id: number, role: Role): boolean {
  return (id % 2 === 1) === (role === 'server');
}

/** Whether stream `id` is bidirectional (bit 0x02 clear). */
export function isBidirectional(id: number): boolean {
  return Math.floor(id / 2) % 2 === 0;
}

/** The sequence number of `id` within its type: id >> 2, without 32-bit truncation. */
export function streamIndex(id: number): number {
  return Math.floor(id / 4);
}

/** The `index`-th stream ID of the type opened by `initiator` in the given direction. */
export function streamIdFor(index: number, initiator: Role, bidirectional: boolean): number {
  return index * 4 + (bidirectional ? 0 : 2) + (initiator === 'server' ? 1 : 0);
}

/** Whether `role` may send on stream `id`: every bidirectional stream, and its own unidirectional ones. */
export function canSend(id: number, role: Role): boolean {
  return isBidirectional(id) || isLocallyInitiated(id, role);
}

/** Whether `role` may receive on stream `id`: every bidirectional stream, and the peer's unidirectional ones. */
export function canReceive(id: number, role: Role): boolean {
  return isBidirectional(id) || !isLocallyInitiated(id, role);
}
