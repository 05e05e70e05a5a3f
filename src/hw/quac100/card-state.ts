/**
 * The emulated card's flash as bytes: what survives the process when an
 * {@link EmulatedQuacStorage} is given. Only persistent keys and each card's
 * handle counter are kept (session keys die with their device handle, and
 * heat, entropy and faults are the state of a running card, not of its flash).
 *
 * Encoding: UTF-8 JSON, versioned, byte strings in hex —
 * `{ "format": "pqtls-emulated-quac100", "version": 1, "cards": [{ "nextHandle": "4098",
 *   "keys": [{ "handle": "4096", "alg": 8449, "label": "…", "fips": false, "publicKey": "…", "secretKey": "…" }] }] }`
 * (handles as decimal strings: they are 64-bit). Readable by eye and by any
 * JSON tool, which is what a test fixture wants. The file holds private keys
 * in the clear: it models the card's flash, not a key-wrapping format.
 *
 * Decoding refuses anything it would have to guess about (another version, an
 * unknown algorithm, a key of the wrong length, a duplicate or out-of-range
 * handle, keys for a card this library does not have) with a ConfigError, so
 * a damaged file never yields a half-restored card.
 */
import { ConfigError } from '../../errors.js';
import { fromHex, fromUtf8, toHex, utf8 } from '../../bytes.js';
import { quacAlgorithm } from './algorithms.js';
import type { QuacAlgorithmId, QuacKeyHandle } from './device.js';

/**
 * Where an emulated card keeps its flash between processes. `load` returns what
 * the last `save` was given, or undefined for a card that never stored a key;
 * `save` is called (synchronously) after every persistent key's creation and
 * destruction, with the whole state. A `save` that throws fails that operation
 * and leaves the card as it was. Give one storage to one library object at a time.
 */
export interface EmulatedQuacStorage {
  load(): Uint8Array | undefined;
  save(state: Uint8Array): void;
}

export const CARD_STATE_FORMAT = 'pqtls-emulated-quac100';
export const CARD_STATE_VERSION = 1;
const MAX_LABEL_BYTES = 64;

/** One persistent key as the flash holds it. */
export interface PersistedKey {
  readonly handle: QuacKeyHandle;
  readonly alg: QuacAlgorithmId;
  readonly label: string;
  readonly fipsGenerated: boolean;
  readonly publicKey: Uint8Array;
  readonly secretKey: Uint8Array;
}

export interface PersistedCard {
  readonly nextHandle: QuacKeyHandle;
  readonly keys: readonly PersistedKey[];
}

export function encodeCardState(cards: readonly PersistedCard[]): Uint8Array {
  return utf8(JSON.stringify({
    format: CARD_STATE_FORMAT,
    version: CARD_STATE_VERSION,
    cards: cards.map((c) => ({
      nextHandle: c.nextHandle.toString(),
      keys: c.keys.map((k) => ({
        handle: k.handle.toString(), alg: k.alg, label: k.label, fips: k.fipsGenerated, publicKey: toHex(k.publicKey), secretKey: toHex(k.secretKey),
      })),
    })),
  }));
}

const bad = (why: string): never => {
  throw new ConfigError(`emulated QUAC 100 state: ${why}`);
};

function record(v: unknown, what: string): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : bad(`${what} is not an object`);
}

function handleOf(v: unknown, what: string): bigint {
  return typeof v === 'string' && /^(0|[1-9]\d{0,19})$/.test(v) && BigInt(v) < 1n << 64n ? BigInt(v) : bad(`${what} is not a 64-bit handle`);
}

function bytesOf(v: unknown, length: number, what: string): Uint8Array {
  if (typeof v !== 'string' || v.length !== 2 * length || !/^[0-9a-f]*$/.test(v)) return bad(`${what} is not ${length} bytes of hex`);
  return fromHex(v);
}

/**
 * Parses a state written by {@link encodeCardState} for a library of `devices`
 * cards holding at most `maxKeys` keys each.
 * @throws ConfigError naming what is wrong.
 */
export function decodeCardState(state: Uint8Array, devices: number, maxKeys: number): PersistedCard[] {
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(state));
  } catch {
    return bad('not UTF-8 JSON');
  }
  const top = record(json, 'the state');
  if (top['format'] !== CARD_STATE_FORMAT) bad(`format is not "${CARD_STATE_FORMAT}"`);
  if (top['version'] !== CARD_STATE_VERSION) bad(`version ${JSON.stringify(top['version'])} is not supported (this library reads version ${CARD_STATE_VERSION})`);
  const cards = top['cards'];
  if (!Array.isArray(cards)) return bad('cards is not an array');
  return cards.map((c: unknown, i): PersistedCard => {
    const card = record(c, `card ${i}`);
    const nextHandle = handleOf(card['nextHandle'], `card ${i} nextHandle`);
    const keys = card['keys'];
    if (!Array.isArray(keys)) return bad(`card ${i} keys is not an array`);
    if (keys.length > 0 && i >= devices) bad(`card ${i} holds keys but this library has ${devices} card(s)`);
    if (keys.length > maxKeys) bad(`card ${i} holds ${keys.length} keys, more than its ${maxKeys}`);
    const seen = new Set<bigint>();
    return {
      nextHandle,
      keys: keys.map((k: unknown, j): PersistedKey => {
        const what = `card ${i} key ${j}`;
        const key = record(k, what);
        const handle = handleOf(key['handle'], `${what} handle`);
        if (handle >= nextHandle || seen.has(handle)) bad(`${what} handle ${handle} is a duplicate or not below nextHandle`);
        seen.add(handle);
        const alg = key['alg'];
        const p = typeof alg === 'number' ? quacAlgorithm(alg) : undefined;
        if (p === undefined) return bad(`${what} has an unknown algorithm ${JSON.stringify(alg)}`);
        const label = key['label'];
        if (typeof label !== 'string' || utf8(label).length > MAX_LABEL_BYTES || label.includes('\0')) bad(`${what} label is not a card label`);
        const fips = key['fips'];
        if (typeof fips !== 'boolean') bad(`${what} fips is not a boolean`);
        return {
          handle, alg: p.alg, label: label as string, fipsGenerated: fips as boolean,
          publicKey: bytesOf(key['publicKey'], p.publicKey, `${what} publicKey`), secretKey: bytesOf(key['secretKey'], p.secretKey, `${what} secretKey`),
        };
      }),
    };
  });
}
