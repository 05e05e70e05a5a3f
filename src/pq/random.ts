/** A synchronous source of random bytes, as backends consume internally. */
export type RandomSource = (length: number) => Uint8Array;

/** The platform CSPRNG (Web Crypto `getRandomValues`, present in every supported runtime). */
export const systemRandom: RandomSource = (length) => {
  const out = new Uint8Array(length);
  // getRandomValues fills at most 65536 bytes per call.
  for (let o = 0; o < length; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(length, o + 65536)));
  return out;
};
