/**
 * `fileQuacStorage`: the emulated card's flash in a file. A key made in one
 * process signs in another; the file is written atomically (temp + rename)
 * with mode 0600 and nothing is left beside it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { QuacAlgorithm } from '../../src/hw/quac100/device.js';
import { emulatedQuacLibrary } from '../../src/hw/quac100/emulated.js';
import { fileQuacStorage } from '../../src/node/index.js';
import { ConfigError } from '../../src/errors.js';
import { fromHex, utf8 } from '../../src/bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'pqtls-quac-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('fileQuacStorage', () => {
  it('a persistent key made in a child process signs in this one; file mode 0600, no temporary file left', async () => {
    const file = join(dir, 'card.json');
    const script = `
      import { emulatedQuacLibrary } from './src/hw/quac100/emulated.ts';
      import { fileQuacStorage } from './src/node/quac-state.ts';
      const lib = emulatedQuacLibrary({ storage: fileQuacStorage(${JSON.stringify(file)}) });
      await lib.init({});
      const dev = await lib.open(0);
      const k = await dev.signKeygenStored(0x2101, 'device identity', true);
      process.stdout.write(Buffer.from(k.publicKey).toString('hex'));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 60_000 });
    const publicKey = fromHex(stdout.trim());
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['card.json']);

    const lib = emulatedQuacLibrary({ storage: fileQuacStorage(file) });
    await lib.init({});
    const dev = await lib.open(0);
    const found = await dev.keyFind('device identity');
    expect(found?.alg).toBe(QuacAlgorithm.DILITHIUM3);
    expect(found?.publicKey).toEqual(publicKey);
    const message = utf8('across processes');
    expect(ml_dsa65.verify(await dev.signStored(found!.handle, message), message, publicKey)).toBe(true);
    await dev.keyDestroy(found!.handle);
    expect(readdirSync(dir)).toEqual(['card.json']);
    const after = emulatedQuacLibrary({ storage: fileQuacStorage(file) });
    await after.init({});
    expect(await (await after.open(0)).keyFind('device identity')).toBeUndefined();
  });

  it('a missing file is an empty card; a file that is not a card state is refused', () => {
    expect(fileQuacStorage(join(dir, 'absent.json')).load()).toBeUndefined();
    const junk = join(dir, 'junk.json');
    writeFileSync(junk, 'not json');
    expect(() => emulatedQuacLibrary({ storage: fileQuacStorage(junk) })).toThrow(ConfigError);
  });
});
