// Run by openssl-ffi.test.ts as `node --expose-gc --import tsx` (a GC on demand needs the flag, which vitest's workers lack).
import { setImmediate as tick } from 'node:timers/promises';
import { opensslFfi, opensslFfiLiveContexts } from '../../src/node/crypto/openssl-ffi.ts';

const ffi = opensslFfi();
if (!ffi) throw new Error('FFI backend unavailable');
/**
 * Collects until the count stops falling (a few rounds: finalizers run after the GC, on a later task, and
 * each FinalizationRegistry's cleanup is a task of its own, so one round may see none of this registry's):
 * until three rounds in a row free nothing.
 */
async function settle() {
  for (let i = 0, last = -1, still = 0; i < 40 && still < 3; i++) {
    const now = opensslFfiLiveContexts();
    still = now === last ? still + 1 : 0;
    last = now;
    globalThis.gc();
    await tick();
    await tick();
  }
}
// The self-test's keys are garbage by now: collected first, so they are not counted below.
await settle();
const before = opensslFfiLiveContexts();
const keep = [];
for (let i = 0; i < 2000; i++) {
  const k = ffi.aead('AES-128-GCM', new Uint8Array(16).fill(i & 255));
  // Each direction's context is made on first use: one seal and one (failing) open make both.
  k.sealInto(new Uint8Array(12), new Uint8Array(0), new Uint8Array(5), new Uint8Array(21));
  k.openInto(new Uint8Array(12), new Uint8Array(0), new Uint8Array(21), new Uint8Array(5));
  const hp = ffi.headerProtection('CHACHA20', new Uint8Array(32));
  // One key in a hundred stays reachable, through its seal function alone.
  if (i % 100 === 0) keep.push([i & 255, k.sealInto]);
  hp.maskSync(new Uint8Array(16));
}
const made = opensslFfiLiveContexts() - before;
await settle();
const left = opensslFfiLiveContexts() - before;
// The kept functions still seal as a fresh key does: their contexts were not freed under them.
let sealsRight = 0;
for (const [fill, seal] of keep) {
  const [a, b] = [new Uint8Array(21), new Uint8Array(21)];
  seal(new Uint8Array(12), new Uint8Array(0), new Uint8Array(5), a);
  ffi.aead('AES-128-GCM', new Uint8Array(16).fill(fill)).sealInto(new Uint8Array(12), new Uint8Array(0), new Uint8Array(5), b);
  if (a.every((x, j) => x === b[j])) sealsRight++;
}
console.log(JSON.stringify({ made, left, kept: keep.length, sealsRight }));
