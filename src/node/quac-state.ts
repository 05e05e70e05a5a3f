/**
 * The emulated QUAC 100's flash in a file, so keys made with
 * `createStoredKey(…, { persistent: true })` outlive the process (a CLI run
 * that makes a key, another that signs with it).
 *
 * THIS FILE IS THE EMULATED CARD'S FLASH AND HOLDS ITS PRIVATE KEYS IN THE
 * CLEAR. "Non-extractable" holds for the card's API (export is refused), not
 * for whoever can read this file: it is for tests and demos only. A real card
 * keeps its keys inside the device; use `nativeQuacLibrary` for those.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { EmulatedQuacStorage } from '../hw/quac100/card-state.js';

/** 1024 keys of the largest algorithm in hex, with room: a bigger file is not one we wrote. */
const MAX_STATE_BYTES = 64 * 1024 * 1024;

/**
 * An {@link EmulatedQuacStorage} in the file at `path` (created on the first
 * save, mode 0600). Each save writes a temporary file beside it and renames
 * it over the old one, so a crash leaves the old state or the new, never half
 * of one. For tests and demos only: the file holds the private keys (see the
 * module comment).
 */
export function fileQuacStorage(path: string): EmulatedQuacStorage {
  return {
    load(): Uint8Array | undefined {
      let size: number;
      try {
        size = statSync(path).size;
      } catch (e) {
        if ((e as { code?: unknown }).code === 'ENOENT') return undefined;
        throw e;
      }
      if (size > MAX_STATE_BYTES) throw new ConfigError(`${path}: ${size} bytes, too large for an emulated QUAC 100 state`);
      return new Uint8Array(readFileSync(path));
    },
    save(state: Uint8Array): void {
      const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
      // 'wx': never follow or reuse something already at the temporary name.
      const fd = openSync(tmp, 'wx', 0o600);
      try {
        try {
          for (let o = 0; o < state.length;) o += writeSync(fd, state, o, state.length - o);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, path);
      } catch (e) {
        try {
          unlinkSync(tmp);
        } catch {
          // Already renamed or never made: nothing to clean up.
        }
        throw e;
      }
    },
  };
}
