/**
 * The emulated card's flash across library objects (and so across processes):
 * persistent keys, and only they, survive; the handle counter goes on; a flash
 * write that fails fails the operation and leaves the card as it was; a state
 * the library cannot restore in full is refused, never half-loaded.
 */
import { describe, expect, it } from 'vitest';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { VirtualClock } from '../../src/hw/quac100/clock.js';
import { QuacAlgorithm } from '../../src/hw/quac100/device.js';
import { emulatedQuacLibrary, type EmulatedQuacOptions } from '../../src/hw/quac100/emulated.js';
import { CARD_STATE_FORMAT, encodeCardState, type EmulatedQuacStorage } from '../../src/hw/quac100/card-state.js';
import { ConfigError } from '../../src/errors.js';
import { fromUtf8, utf8 } from '../../src/bytes.js';
import { seededRandom } from '../../src/testing/random.js';
import { expectQuacError } from './device-conformance.js';

/** A storage in memory that records every save. */
function memoryStorage(initial?: Uint8Array): EmulatedQuacStorage & { saves: Uint8Array[]; failNext: boolean } {
  const s = {
    saves: [] as Uint8Array[],
    failNext: false,
    load: () => s.saves.at(-1) ?? initial,
    save: (state: Uint8Array) => {
      if (s.failNext) {
        s.failNext = false;
        throw new Error('flash worn out');
      }
      s.saves.push(state.slice());
    },
  };
  return s;
}

async function card(o: EmulatedQuacOptions) {
  const lib = emulatedQuacLibrary({ clock: new VirtualClock(), random: seededRandom('card state'), ...o });
  await lib.init({});
  return { lib, dev: await lib.open(0) };
}

const message = utf8('signed after a power cycle');

describe('emulated QUAC 100 storage: the flash outlives the library object', () => {
  it('a persistent key is found, signs and keeps its handle in a new library object; a session key is not saved', async () => {
    const storage = memoryStorage();
    const a = await card({ storage });
    const kept = await a.dev.signKeygenStored(QuacAlgorithm.DILITHIUM3, 'identity', true);
    expect(storage.saves).toHaveLength(1);
    await a.dev.signKeygenStored(QuacAlgorithm.DILITHIUM3, 'ephemeral', false);
    expect(storage.saves).toHaveLength(1);
    const saved = JSON.parse(fromUtf8(storage.saves[0]!)) as { format: string; version: number; cards: { keys: { label: string }[] }[] };
    expect(saved).toMatchObject({ format: CARD_STATE_FORMAT, version: 1 });
    expect(saved.cards[0]!.keys.map((k) => k.label)).toEqual(['identity']);
    await a.lib.shutdown();

    const b = await card({ storage });
    const found = await b.dev.keyFind('identity');
    expect(found).toEqual({ handle: kept.handle, alg: QuacAlgorithm.DILITHIUM3, publicKey: kept.publicKey });
    expect(await b.dev.keyFind('ephemeral')).toBeUndefined();
    expect(await b.dev.keyAttributes(kept.handle)).toEqual({ extractable: false, persistent: true });
    await expectQuacError(b.dev.keyExport(kept.handle), 'KEY_NOT_EXTRACTABLE');
    const sig = await b.dev.signStored(kept.handle, message);
    expect(ml_dsa65.verify(sig, message, kept.publicKey)).toBe(true);
    // The counter is part of the flash: no persistent key's handle comes back after a restart.
    const next = await b.dev.signKeygenStored(QuacAlgorithm.DILITHIUM2, 'second', true);
    expect(next.handle).toBe(kept.handle + 1n);
  });

  it('destroying a persistent key is saved: the next library object no longer has it', async () => {
    const storage = memoryStorage();
    const a = await card({ storage });
    const k = await a.dev.kemKeygenStored(QuacAlgorithm.KYBER768, 'kem', true);
    await a.dev.keyDestroy(k.handle);
    expect(storage.saves).toHaveLength(2);
    const b = await card({ storage });
    expect(await b.dev.keyFind('kem')).toBeUndefined();
  });

  it('a save that fails fails the operation (INTERNAL) and leaves the card as the flash says', async () => {
    const storage = memoryStorage();
    const { dev } = await card({ storage });
    storage.failNext = true;
    await expectQuacError(dev.signKeygenStored(QuacAlgorithm.DILITHIUM3, 'lost', true), 'INTERNAL');
    expect(await dev.keyFind('lost')).toBeUndefined();
    const k = await dev.signKeygenStored(QuacAlgorithm.DILITHIUM3, 'kept', true);
    storage.failNext = true;
    await expectQuacError(dev.keyDestroy(k.handle), 'INTERNAL');
    expect((await dev.signStored(k.handle, message)).length).toBe(3309);
  });

  it('refuses a state it cannot restore in full, with a ConfigError naming the fault', () => {
    const pk = new Uint8Array(1952);
    const sk = new Uint8Array(4032);
    const key = { handle: 0x1000n, alg: QuacAlgorithm.DILITHIUM3, label: 'k', fipsGenerated: false, publicKey: pk, secretKey: sk };
    const make = (state: Uint8Array, devices = 1) => () => emulatedQuacLibrary({ devices, storage: memoryStorage(state) });
    // The well-formed state loads.
    expect(make(encodeCardState([{ nextHandle: 0x1001n, keys: [key] }]))).not.toThrow();
    const cases: [string, Uint8Array, number?][] = [
      ['not UTF-8 JSON', utf8('{'), undefined],
      ['version 2 is not supported', utf8(fromUtf8(encodeCardState([])).replace('"version":1', '"version":2')), undefined],
      ['publicKey is not 1952 bytes', encodeCardState([{ nextHandle: 0x1001n, keys: [{ ...key, publicKey: pk.subarray(1) }] }]), undefined],
      ['unknown algorithm', encodeCardState([{ nextHandle: 0x1001n, keys: [{ ...key, alg: 0x9999 as typeof key.alg }] }]), undefined],
      ['not below nextHandle', encodeCardState([{ nextHandle: 0x1000n, keys: [key] }]), undefined],
      ['duplicate', encodeCardState([{ nextHandle: 0x1001n, keys: [key, key] }]), undefined],
      ['card 1 holds keys but this library has 1 card(s)', encodeCardState([{ nextHandle: 1n, keys: [] }, { nextHandle: 0x1001n, keys: [key] }]), 1],
    ];
    for (const [why, state, devices] of cases) {
      expect(make(state, devices)).toThrow(ConfigError);
      expect(make(state, devices)).toThrow(why);
    }
  });
});
