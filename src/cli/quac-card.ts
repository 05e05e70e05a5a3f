/**
 * The QUAC 100 flags shared by CLI commands: `--quac emulated|native` picks the
 * card, `--quac-state FILE` (or `$QUAC_EMULATOR_STATE`) is the emulated card's
 * flash, `--quac-library PATH` (or `$QUAC100_LIBRARY`) the vendor's .so, and
 * `quac:LABEL` names a key on the card wherever a key file is accepted.
 */
import type { ParseArgsConfig } from 'node:util';
import { createQuacProvider, type QuacProvider, type QuacProviderOptions } from '../hw/quac100/provider.js';
import { emulatedQuacLibrary } from '../hw/quac100/emulated.js';
import { nativeQuacLibrary } from '../hw/quac100/native.js';
import { fileQuacStorage } from '../node/quac-state.js';
import { UsageError } from './command.js';

export const quacOptions = {
  quac: { type: 'string' },
  'quac-state': { type: 'string' },
  'quac-library': { type: 'string' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const quacHelp = `
  --quac CARD          emulated or native: keys named quac:LABEL live on a QUAC 100 card
  --quac-state FILE    the emulated card's flash (default $QUAC_EMULATOR_STATE); it holds the
                       card's private keys in the clear: for tests and demos only
  --quac-library PATH  the native card's libquac100.so (default $QUAC100_LIBRARY)`;

const PREFIX = 'quac:';

/** The label of a `quac:LABEL` key name, or undefined when `spec` names a file. */
export function quacLabel(spec: string): string | undefined {
  if (!spec.startsWith(PREFIX)) return undefined;
  const label = spec.slice(PREFIX.length);
  if (label.length === 0) throw new UsageError('quac: needs a label (quac:LABEL)');
  return label;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * The QUAC provider the flags ask for, or undefined without `--quac`. Its
 * stored keys are persistent: a CLI run ends, the card's keys stay.
 */
export async function openQuacCard(
  v: Values, env: Readonly<Record<string, string | undefined>> = process.env,
  options: Pick<QuacProviderOptions, 'software' | 'batch'> = {},
): Promise<QuacProvider | undefined> {
  const mode = v['quac'];
  const stateFlag = typeof v['quac-state'] === 'string' ? v['quac-state'] : undefined;
  const libraryFlag = typeof v['quac-library'] === 'string' ? v['quac-library'] : undefined;
  if (mode === undefined) {
    if (stateFlag !== undefined || libraryFlag !== undefined) throw new UsageError('--quac-state and --quac-library need --quac emulated|native');
    return undefined;
  }
  if (mode === 'emulated') {
    if (libraryFlag !== undefined) throw new UsageError('--quac-library is for --quac native');
    const state = stateFlag ?? env['QUAC_EMULATOR_STATE'];
    if (!state) throw new UsageError('--quac emulated needs --quac-state FILE (or $QUAC_EMULATOR_STATE): the emulated card keeps its keys in that file');
    return createQuacProvider({ library: emulatedQuacLibrary({ storage: fileQuacStorage(state) }), keyPool: false, ...options });
  }
  if (mode === 'native') {
    if (stateFlag !== undefined) throw new UsageError('--quac-state is for --quac emulated (a native card keeps its keys itself)');
    return createQuacProvider({ library: nativeQuacLibrary(libraryFlag !== undefined ? { library: libraryFlag } : {}), keyPool: false, ...options });
  }
  throw new UsageError(`--quac must be emulated or native, not "${String(mode)}"`);
}
