/**
 * The card's known-answer self-tests (FIPS 140-3 §7.10.3 conditional and
 * pre-operational self-tests; FIPS 203 and FIPS 204 as the algorithms). Each
 * parameter set is run from fixed inputs through key generation, encapsulation
 * and decapsulation (with an implicit-rejection case, FIPS 203 Algorithm 18
 * step 9) or key generation, deterministic signing and verification, and the
 * SHA-256 of every output is compared with the digests below. The inputs and
 * digests are in test-vectors/quac100/kat-digests.json with how they were
 * derived; test/hw/emulated-device.test.ts checks that the two agree.
 */
import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { ml_dsa44, ml_dsa65, ml_dsa87 } from '@noble/post-quantum/ml-dsa.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../bytes.js';
import { QuacAlgorithm, type QuacAlgorithmId } from './device.js';

type Kem = typeof ml_kem768;
type Dsa = typeof ml_dsa65;

/** The noble implementation of each card algorithm: the emulator's arithmetic. */
export const KEM_IMPL: ReadonlyMap<number, Kem> = new Map<number, Kem>([
  [QuacAlgorithm.KYBER512, ml_kem512],
  [QuacAlgorithm.KYBER768, ml_kem768],
  [QuacAlgorithm.KYBER1024, ml_kem1024],
]);
export const DSA_IMPL: ReadonlyMap<number, Dsa> = new Map<number, Dsa>([
  [QuacAlgorithm.DILITHIUM2, ml_dsa44],
  [QuacAlgorithm.DILITHIUM3, ml_dsa65],
  [QuacAlgorithm.DILITHIUM5, ml_dsa87],
]);

const range = (start: number, length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);

/** KAT inputs: ML-KEM d ‖ z = 00 01 … 3f, m = 40 41 … 5f; ML-DSA ξ = 00 01 … 1f, rnd = 0³² (deterministic), empty context. */
export const KAT_INPUTS = {
  kemSeed: range(0, 64),
  kemMessage: range(64, 32),
  dsaSeed: range(0, 32),
  dsaMessage: new TextEncoder().encode('pqtls QUAC 100 known-answer test'),
} as const;

export interface KemDigests { readonly pk: string; readonly sk: string; readonly ct: string; readonly ss: string; readonly ssRejected: string }
export interface DsaDigests { readonly pk: string; readonly sk: string; readonly sig: string }

/** SHA-256 (hex) of each KAT output, from test-vectors/quac100/kat-digests.json. */
export const KAT_DIGESTS: { readonly kem: Readonly<Record<number, KemDigests>>; readonly dsa: Readonly<Record<number, DsaDigests>> } = {
  kem: {
    [QuacAlgorithm.KYBER512]: { pk: '3ae268dccc5456ac0d0f9b39257dc48fe081383b97c400512d712b739762daee', sk: '17fb29b8c4baf74fb81eea15ffd583b3e37f5a5b8dcf6db96c72c3b3751d6f17', ct: '81efe667826848514dcae46fc10cfd34f7b95ed6900e094f727c9e7cccc34df2', ss: '10f3aedb1a3440f36128242e3f158ea8503f9e3b74e18e253f60c8ad0e20cac8', ssRejected: 'ecfc934dc888c5a32b8571b490bc613d3fb84da91332c6a017a2fc7063bf14e7' },
    [QuacAlgorithm.KYBER768]: { pk: '0b7934c83125c788995e2ba6bd761e33046b3e40571be53e023309a29f398cc9', sk: 'dac268bde6a8dd238e9887117d6b664e7a7a9350ad6b7c08a948e504809572a5', ct: 'dbf4e9aa48b078ad46ec1c9c47bda8c2d2fec9d0e7a21bd48d2238a2abedb856', ss: '3211693eed5183e918a272986290fdf7419bcae0f2f648533dcfb290ca670c19', ssRejected: '59a83b5d15e4907a44e97eda3c3bfb28fe36dcc3bb7bffa97915079a058564e3' },
    [QuacAlgorithm.KYBER1024]: { pk: 'c7b8fa0aa471d5ae18922d6ccad5b31e1d84f92ae723abfd13747018740a8530', sk: '3a2a676c5a242ee683cb6097c8f3e64fbef4d90267f9250ec2beab8f99621fad', ct: '7c89743960f7c3d17bb69572e49de14fe0990c9113a0706963a8f4c7b39afcdf', ss: '0bf615778a6c71e8915a2ec482a0f5a24dbdcd15ddaa55e3c0d7c5df7a4f3910', ssRejected: '87a21644bdb80705eb6fa3f80472a63ac01c1c871dcfee366c4834a25099c4da' },
  },
  dsa: {
    [QuacAlgorithm.DILITHIUM2]: { pk: '9f107644c1084526af3bc8098680b05499a2325a644e388fb4f970e058d19d46', sk: '04bf6b9f579166a627961dfc5c3bf9717df868db88863856356c4668c8b56b0b', sig: '79ce9e1eefc01177a6c907056a5ac959df5c1d241a5ea0ffd0ca5be148632708' },
    [QuacAlgorithm.DILITHIUM3]: { pk: 'd666806e11cee19a7c989f7445f90dd419cf4d2d51db8c0fdb4c0f0a542238c9', sk: '9f1e24f47795fe50040384e3d6183988047170fa2d866406b70fe0a3f8216063', sig: 'e5d729a24d1ebfe205704b2846c44ddde2b006b302d38d6a7401d60fcad24028' },
    [QuacAlgorithm.DILITHIUM5]: { pk: '91dc389cfaa01470b7f66eee45a4ae9026d154817c754dfe22298b3fa241ffcd', sk: '764d3e223ed90c07bc91a0ab6ecd170e5c66ffe39f7039298596039a36005435', sig: 'd75ecd0e5cbebd452648769f6c3cd1adb7f156379e5df3a6c81d0cb1e78d24f4' },
  },
};

const digest = (b: Uint8Array): string => toHex(sha256(b));

/** The KAT outputs of one ML-KEM set, as digests. */
export function kemKnownAnswers(alg: QuacAlgorithmId): KemDigests {
  const kem = KEM_IMPL.get(alg);
  if (kem === undefined) throw new RangeError(`not an ML-KEM algorithm: ${alg}`);
  const { publicKey, secretKey } = kem.keygen(KAT_INPUTS.kemSeed);
  const { cipherText, sharedSecret } = kem.encapsulate(publicKey, KAT_INPUTS.kemMessage);
  const recovered = kem.decapsulate(cipherText, secretKey);
  const tampered = cipherText.slice();
  tampered[0] = (tampered[0] as number) ^ 1;
  const rejected = kem.decapsulate(tampered, secretKey);
  // Decapsulation must agree with encapsulation; a mismatch is reported as a wrong ss digest.
  const ss = recovered.every((b, i) => b === sharedSecret[i]) ? sharedSecret : recovered;
  return { pk: digest(publicKey), sk: digest(secretKey), ct: digest(cipherText), ss: digest(ss), ssRejected: digest(rejected) };
}

/** The KAT outputs of one ML-DSA set, as digests; a signature that does not verify is reported as an empty digest. */
export function dsaKnownAnswers(alg: QuacAlgorithmId): DsaDigests {
  const dsa = DSA_IMPL.get(alg);
  if (dsa === undefined) throw new RangeError(`not an ML-DSA algorithm: ${alg}`);
  const { publicKey, secretKey } = dsa.keygen(KAT_INPUTS.dsaSeed);
  const sig = dsa.sign(KAT_INPUTS.dsaMessage, secretKey, { extraEntropy: false });
  const valid = dsa.verify(sig, KAT_INPUTS.dsaMessage, publicKey);
  return { pk: digest(publicKey), sk: digest(secretKey), sig: valid ? digest(sig) : '' };
}

/**
 * Runs every KAT; the names of the checks that failed (empty when all pass).
 * `corrupt` models a faulty engine: it alters each computed digest before the
 * comparison, so a failure goes through the same comparison a real fault would.
 */
export function runKnownAnswerTests(corrupt?: (digestHex: string) => string): string[] {
  const c = corrupt ?? ((d: string) => d);
  const failed: string[] = [];
  for (const [alg, want] of Object.entries(KAT_DIGESTS.kem)) {
    const got = kemKnownAnswers(Number(alg) as QuacAlgorithmId);
    for (const k of ['pk', 'sk', 'ct', 'ss', 'ssRejected'] as const) if (c(got[k]) !== want[k]) failed.push(`0x${Number(alg).toString(16)} ${k}`);
  }
  for (const [alg, want] of Object.entries(KAT_DIGESTS.dsa)) {
    const got = dsaKnownAnswers(Number(alg) as QuacAlgorithmId);
    for (const k of ['pk', 'sk', 'sig'] as const) if (c(got[k]) !== want[k]) failed.push(`0x${Number(alg).toString(16)} ${k}`);
  }
  return failed;
}
