/**
 * A QUAC provider on emulated cards for tests: virtual time (so batching waits
 * and device service times cost nothing real), a seeded QRNG, and a software
 * provider wrapped in a spy that records what the QUAC provider hands it.
 */
import { onTestFinished } from 'vitest';
import { VirtualClock, type QuacClock } from '../../src/hw/quac100/clock.js';
import type { QuacDevice, QuacLibrary } from '../../src/hw/quac100/device.js';
import { EmulatedQuacLibrary, type EmulatedQuacOptions } from '../../src/hw/quac100/emulated.js';
import { createQuacProvider, type QuacProvider, type QuacProviderOptions } from '../../src/hw/quac100/provider.js';
import { createNobleProvider, groupName, type CryptoProvider, type KeyExchange, type NamedGroup } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';

export interface SoftwareSpy {
  readonly provider: CryptoProvider;
  /** Bytes asked of `random`, per call. */
  readonly random: number[];
  /** `group:generate` / `group:encapsulate` per key-exchange operation run in software. */
  readonly kex: string[];
}

/** A seeded noble provider that records its random and key-exchange use. */
export function softwareSpy(seed: string): SoftwareSpy {
  const inner = createNobleProvider({ random: seededRandom(seed) });
  const random: number[] = [];
  const kex: string[] = [];
  const wrap = (k: KeyExchange): KeyExchange => ({
    group: k.group,
    clientShareLength: k.clientShareLength,
    serverShareLength: k.serverShareLength,
    generate: () => {
      kex.push(`${groupName(k.group)}:generate`);
      return k.generate();
    },
    encapsulate: (share) => {
      kex.push(`${groupName(k.group)}:encapsulate`);
      return k.encapsulate(share);
    },
  });
  const provider: CryptoProvider = {
    ...inner,
    random: (n: number) => {
      random.push(n);
      return inner.random(n);
    },
    keyExchange: (g: NamedGroup) => wrap(inner.keyExchange(g)),
  };
  return { provider, random, kex };
}

export interface QuacFixture {
  readonly clock: VirtualClock;
  readonly lib: EmulatedQuacLibrary;
  readonly soft: SoftwareSpy;
  readonly quac: QuacProvider;
  readonly devices: readonly QuacDevice[];
}

export interface FixtureOptions {
  readonly devices?: number;
  readonly seed?: string;
  readonly emulator?: Omit<EmulatedQuacOptions, 'clock' | 'random' | 'devices'>;
  readonly provider?: Omit<QuacProviderOptions, 'library' | 'devices' | 'software' | 'clock'>;
  /** Arm faults on the cards before the provider starts. */
  readonly before?: (lib: EmulatedQuacLibrary) => void;
  /** Wrap each opened device (to observe or interfere with calls). */
  readonly wrap?: (d: QuacDevice, lib: EmulatedQuacLibrary) => QuacDevice;
}

/** Emulated cards (opened here, FIPS as the provider options say) and a provider over them; no key pool unless asked. */
export async function quacFixture(o: FixtureOptions = {}): Promise<QuacFixture> {
  const clock = new VirtualClock();
  const seed = o.seed ?? 'quac';
  const lib = new EmulatedQuacLibrary({ devices: o.devices ?? 1, clock, random: seededRandom(`${seed}/qrng`), ...o.emulator });
  o.before?.(lib);
  await lib.init({ fips: o.provider?.fips === true });
  const n = await lib.deviceCount();
  const devices: QuacDevice[] = [];
  for (let i = 0; i < n; i++) {
    const d = await lib.open(i);
    devices.push(o.wrap ? o.wrap(d, lib) : d);
  }
  const soft = softwareSpy(`${seed}/software`);
  const quac = await createQuacProvider({
    keyPool: false,
    ...o.provider,
    devices,
    software: soft.provider,
    clock,
  });
  return { clock, lib, soft, quac, devices };
}

/** A device whose methods are the emulated one's, with some replaced. */
export function override(d: QuacDevice, methods: Partial<QuacDevice>): QuacDevice {
  const bound = Object.fromEntries(
    (['kemKeygen', 'kemEncaps', 'kemDecaps', 'kemKeygenStored', 'kemDecapsStored', 'signKeygenStored', 'signStored', 'verify', 'keyFind',
      'keyAttributes', 'keyExport', 'keyDestroy', 'randomBytes', 'batchExecute', 'health', 'selfTest', 'close'] as const)
      .map((m) => [m, (d[m] as (...a: unknown[]) => unknown).bind(d)]),
  );
  return { ...(bound as unknown as QuacDevice), index: d.index, ...methods };
}

/**
 * Where a suite that must hold for every QUAC 100 implementation gets its
 * cards: a fresh, not yet initialised library and the clock the provider
 * batches on — the emulator in virtual time, or the native binding over a real
 * library in real time. `seed` seeds whatever the implementation lets a test seed.
 */
export type MakeCards = (seed: string) => { readonly library: QuacLibrary; readonly clock: QuacClock };

/** The emulated card in virtual time, with a seeded QRNG. */
export const emulatedCards: MakeCards = (seed) => {
  const clock = new VirtualClock();
  return { library: new EmulatedQuacLibrary({ devices: 1, clock, random: seededRandom(`${seed}/qrng`) }), clock };
};

export interface CardsFixture {
  readonly clock: QuacClock;
  readonly lib: QuacLibrary;
  readonly soft: SoftwareSpy;
  readonly quac: QuacProvider;
  readonly devices: readonly QuacDevice[];
}

/**
 * {@link quacFixture} over any implementation: initialises `cards`' library
 * (FIPS as the provider options say), opens every device, and builds a
 * provider over them with a software spy. When the test ends the provider is
 * closed, the devices too and the library shut down, so the next test can open
 * them again (a real library refuses to open a device twice: BUSY).
 */
export async function cardsFixture(cards: MakeCards, o: Pick<FixtureOptions, 'seed' | 'provider'> = {}): Promise<CardsFixture> {
  const seed = o.seed ?? 'quac';
  const { library: lib, clock } = cards(seed);
  await lib.init({ fips: o.provider?.fips === true });
  const devices: QuacDevice[] = [];
  let quac: QuacProvider | undefined;
  onTestFinished(async () => {
    await quac?.close();
    await Promise.allSettled(devices.map((d) => d.close()));
    await lib.shutdown();
  });
  const n = await lib.deviceCount();
  for (let i = 0; i < n; i++) devices.push(await lib.open(i));
  const soft = softwareSpy(`${seed}/software`);
  quac = await createQuacProvider({ keyPool: false, ...o.provider, devices, software: soft.provider, clock });
  return { clock, lib, soft, quac, devices };
}
