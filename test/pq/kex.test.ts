/**
 * Key exchange of the noble backend, checked against the share layouts of
 * draft-ietf-tls-ecdhe-mlkem §3.1 and draft-ietf-tls-mlkem §4.2, the ECDHE
 * rules of RFC 8446 §4.2.8.2 / §7.4, and the RFC 8448 traces.
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { p256, p384 } from '@noble/curves/nist.js';
import { ml_kem1024, ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import fc from 'fast-check';
import { seeded } from '../helpers/fc.js';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex } from '../../src/bytes.js';
import { AlertDescription, ConfigError, IllegalParameterError, PqtlsError, UnsupportedAlgorithmError } from '../../src/errors.js';
import { groupName, NamedGroup, SignatureScheme } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { NOBLE_GROUPS, nobleKeyExchange } from '../../src/pq/noble/kex.js';
import { type RandomSource } from '../../src/pq/random.js';
import { scriptedRandom, seededRandom } from '../../src/testing/index.js';

/** Sizes from the drafts' text: client share, server share, shared secret. */
const SIZES: ReadonlyMap<NamedGroup, readonly [number, number, number]> = new Map([
  [NamedGroup.X25519MLKEM768, [1216, 1120, 64]], // draft-ietf-tls-ecdhe-mlkem §3.1
  [NamedGroup.SecP256r1MLKEM768, [1249, 1153, 64]],
  [NamedGroup.SecP384r1MLKEM1024, [1665, 1665, 80]],
  [NamedGroup.MLKEM512, [800, 768, 32]], // FIPS 203 Table 3, draft-ietf-tls-mlkem §4.2
  [NamedGroup.MLKEM768, [1184, 1088, 32]],
  [NamedGroup.MLKEM1024, [1568, 1568, 32]],
  [NamedGroup.x25519, [32, 32, 32]], // RFC 8446 §4.2.8.2
  [NamedGroup.secp256r1, [65, 65, 32]],
  [NamedGroup.secp384r1, [97, 97, 48]],
] as const);

type Component = 'mlkem' | 'x25519' | 'nist';
/** Server-share layout: [component, length] in order (draft-ietf-tls-ecdhe-mlkem §3.1.2). */
const SERVER_LAYOUT: ReadonlyMap<NamedGroup, readonly (readonly [Component, number])[]> = new Map([
  [NamedGroup.X25519MLKEM768, [['mlkem', 1088], ['x25519', 32]]],
  [NamedGroup.SecP256r1MLKEM768, [['nist', 65], ['mlkem', 1088]]],
  [NamedGroup.SecP384r1MLKEM1024, [['nist', 97], ['mlkem', 1568]]],
  [NamedGroup.MLKEM512, [['mlkem', 768]]],
  [NamedGroup.MLKEM768, [['mlkem', 1088]]],
  [NamedGroup.MLKEM1024, [['mlkem', 1568]]],
  [NamedGroup.x25519, [['x25519', 32]]],
  [NamedGroup.secp256r1, [['nist', 65]]],
  [NamedGroup.secp384r1, [['nist', 97]]],
] as const);

const groupCases = NOBLE_GROUPS.map((g) => [groupName(g), g] as const);

function sizes(g: NamedGroup): readonly [number, number, number] {
  const s = SIZES.get(g);
  if (!s) throw new Error(`no sizes for ${groupName(g)}`);
  return s;
}

function kexFor(g: NamedGroup, random: RandomSource = seededRandom(`kex ${groupName(g)}`)) {
  return nobleKeyExchange(g, 'noble', random);
}

async function expectIllegal(p: Promise<unknown>): Promise<void> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IllegalParameterError);
  expect((err as IllegalParameterError).alert).toBe(AlertDescription.illegal_parameter);
  expect((err as IllegalParameterError).alert).toBe(47);
}

/** Records the length of every draw, to pin the documented randomness order. */
function recording(seed: string): { random: RandomSource; draws: number[] } {
  const inner = seededRandom(seed);
  const draws: number[] = [];
  return { random: (n) => (draws.push(n), inner(n)), draws };
}

describe('every group: client generate → server encapsulate → client complete', () => {
  it('offers the groups in the documented preference order', () => {
    expect(NOBLE_GROUPS.map(groupName)).toEqual([
      'X25519MLKEM768', 'SecP256r1MLKEM768', 'SecP384r1MLKEM1024', 'MLKEM768', 'MLKEM1024', 'MLKEM512',
      'x25519', 'secp256r1', 'secp384r1',
    ]);
  });

  it.each(groupCases)('%s agrees on one secret with the sizes the drafts give', async (_name, g) => {
    const [clientLen, serverLen, secretLen] = sizes(g);
    const kex = kexFor(g);
    expect(kex.group).toBe(g);
    expect(kex.clientShareLength).toBe(clientLen);
    expect(kex.serverShareLength).toBe(serverLen);

    const client = await kex.generate();
    expect(client.group).toBe(g);
    expect(client.share.length).toBe(clientLen);
    const server = await kex.encapsulate(client.share);
    expect(server.share.length).toBe(serverLen);
    expect(server.secret.length).toBe(secretLen);
    expect(toHex(await client.complete(server.share))).toBe(toHex(server.secret));
  });

  it.each(groupCases)('%s: a tampered server share gives a different secret or illegal_parameter', async (_name, g) => {
    const kex = kexFor(g);
    let offset = 0;
    let secretOffset = 0;
    for (const [component, length] of SERVER_LAYOUT.get(g) ?? []) {
      const client = await kex.generate();
      const server = await kex.encapsulate(client.share);
      const tampered = server.share.slice();
      const i = offset + Math.floor(length / 2);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      if (component === 'nist') {
        // Flipping a coordinate bit moves the point off the curve (RFC 8446 §4.2.8.2).
        await expectIllegal(client.complete(tampered));
      } else {
        // ML-KEM implicitly rejects (FIPS 203 Alg. 18); X25519 lands on another point.
        const secret = await client.complete(tampered);
        expect(secret.length).toBe(server.secret.length);
        const partLen = 32; // both ML-KEM and X25519 secrets are 32 bytes
        const part = (s: Uint8Array) => toHex(s.subarray(secretOffset, secretOffset + partLen));
        const rest = (s: Uint8Array) => toHex(concat(s.subarray(0, secretOffset), s.subarray(secretOffset + partLen)));
        expect(part(secret)).not.toBe(part(server.secret));
        // The other half of a hybrid secret is untouched: the halves are independent and in layout order.
        expect(rest(secret)).toBe(rest(server.secret));
      }
      offset += length;
      secretOffset += component === 'nist' ? (length - 1) / 2 : 32;
    }
  });

  it.each(groupCases)('%s: short and long shares are illegal_parameter on both sides', async (_name, g) => {
    const [clientLen, serverLen] = sizes(g);
    const kex = kexFor(g);
    const valid = await kex.generate();
    for (const len of [0, 1, clientLen - 1, clientLen + 1]) {
      const share = concat(valid.share, new Uint8Array(1)).subarray(0, len);
      await expectIllegal(kex.encapsulate(share));
    }
    const { share: serverShare } = await kex.encapsulate(valid.share);
    for (const len of [0, 1, serverLen - 1, serverLen + 1]) {
      const client = await kex.generate();
      await expectIllegal(client.complete(concat(serverShare, new Uint8Array(1)).subarray(0, len)));
    }
  });

  it.each(groupCases)('%s: complete runs once and the key ref holds no key bytes', async (_name, g) => {
    const kex = kexFor(g);
    const client = await kex.generate();
    const { share } = await kex.encapsulate(client.share);
    await client.complete(share);
    await expect(client.complete(share)).rejects.toBeInstanceOf(ConfigError);

    expect(client.privateKey).toEqual({ algorithm: 'kex', provider: 'noble' });
    expect(Object.isFrozen(client.privateKey)).toBe(true);
    expect(Object.getOwnPropertyNames(client.privateKey).sort()).toEqual(['algorithm', 'provider']);
  });

  it('a failed complete also consumes the share', async () => {
    const kex = kexFor(NamedGroup.x25519);
    const client = await kex.generate();
    await expectIllegal(client.complete(new Uint8Array(31)));
    await expect(client.complete(new Uint8Array(32).fill(9))).rejects.toBeInstanceOf(ConfigError);
  });

  it('refuses a group it does not implement', () => {
    expect(() => nobleKeyExchange(0x001e as NamedGroup, 'noble', seededRandom('x'))).toThrow(UnsupportedAlgorithmError);
  });
});

describe('through createNobleProvider', () => {
  const provider = createNobleProvider({ random: seededRandom('provider kex') });

  it('advertises NOBLE_GROUPS and serves each with its own KeyExchange', async () => {
    expect(provider.groups).toEqual(NOBLE_GROUPS);
    for (const g of provider.groups) {
      const kex = provider.keyExchange(g);
      const client = await kex.generate();
      const server = await kex.encapsulate(client.share);
      expect(toHex(await client.complete(server.share))).toBe(toHex(server.secret));
      expect(client.privateKey.provider).toBe(provider.name);
    }
  });

  it('refuses a group it does not implement, and a kex ref is no signing key', async () => {
    expect(() => provider.keyExchange(0x001e as NamedGroup)).toThrow(UnsupportedAlgorithmError);
    const client = await provider.keyExchange(NamedGroup.x25519).generate();
    await expect(provider.sign(SignatureScheme.ed25519, client.privateKey, new Uint8Array(1))).rejects.toBeInstanceOf(PqtlsError);
  });
});

describe('hybrid layouts against raw noble (draft-ietf-tls-ecdhe-mlkem §3.1)', () => {
  const seed = fromHex('11'.repeat(64));
  const m = fromHex('22'.repeat(32));

  it('X25519MLKEM768: ek ‖ x25519, ct ‖ x25519, ML-KEM secret first', async () => {
    const cPriv = fromHex('33'.repeat(32));
    const sPriv = fromHex('44'.repeat(32));
    const client = await nobleKeyExchange(NamedGroup.X25519MLKEM768, 'noble', scriptedRandom([seed, cPriv])).generate();
    const keys = ml_kem768.keygen(seed);
    expect(toHex(client.share)).toBe(toHex(concat(keys.publicKey, x25519.getPublicKey(cPriv))));

    const server = await nobleKeyExchange(NamedGroup.X25519MLKEM768, 'noble', scriptedRandom([m, sPriv])).encapsulate(client.share);
    const enc = ml_kem768.encapsulate(keys.publicKey, m);
    const xss = x25519.getSharedSecret(sPriv, x25519.getPublicKey(cPriv));
    expect(toHex(server.share)).toBe(toHex(concat(enc.cipherText, x25519.getPublicKey(sPriv))));
    expect(toHex(server.secret)).toBe(toHex(concat(enc.sharedSecret, xss)));
    expect(toHex(await client.complete(server.share))).toBe(toHex(server.secret));
  });

  it('SecP256r1MLKEM768: point ‖ ek, point ‖ ct, ECDH secret (x-coordinate) first', async () => {
    const cPriv = fromHex('33'.repeat(32));
    const sPriv = fromHex('44'.repeat(32));
    const client = await nobleKeyExchange(NamedGroup.SecP256r1MLKEM768, 'noble', scriptedRandom([cPriv, seed])).generate();
    const keys = ml_kem768.keygen(seed);
    expect(toHex(client.share)).toBe(toHex(concat(p256.getPublicKey(cPriv, false), keys.publicKey)));

    const server = await nobleKeyExchange(NamedGroup.SecP256r1MLKEM768, 'noble', scriptedRandom([sPriv, m])).encapsulate(client.share);
    const enc = ml_kem768.encapsulate(keys.publicKey, m);
    const ecdh = p256.getSharedSecret(sPriv, p256.getPublicKey(cPriv, false)).subarray(1); // RFC 8446 §7.4.2: x only
    expect(toHex(server.share)).toBe(toHex(concat(p256.getPublicKey(sPriv, false), enc.cipherText)));
    expect(toHex(server.secret)).toBe(toHex(concat(ecdh, enc.sharedSecret)));
    expect(toHex(await client.complete(server.share))).toBe(toHex(server.secret));
  });

  it('SecP384r1MLKEM1024: point ‖ ek, point ‖ ct, 48 + 32 byte secret', async () => {
    const cPriv = fromHex('33'.repeat(48));
    const sPriv = fromHex('44'.repeat(48));
    const client = await nobleKeyExchange(NamedGroup.SecP384r1MLKEM1024, 'noble', scriptedRandom([cPriv, seed])).generate();
    const keys = ml_kem1024.keygen(seed);
    expect(toHex(client.share)).toBe(toHex(concat(p384.getPublicKey(cPriv, false), keys.publicKey)));

    const server = await nobleKeyExchange(NamedGroup.SecP384r1MLKEM1024, 'noble', scriptedRandom([sPriv, m])).encapsulate(client.share);
    const enc = ml_kem1024.encapsulate(keys.publicKey, m);
    const ecdh = p384.getSharedSecret(sPriv, p384.getPublicKey(cPriv, false)).subarray(1);
    expect(toHex(server.share)).toBe(toHex(concat(p384.getPublicKey(sPriv, false), enc.cipherText)));
    expect(toHex(server.secret)).toBe(toHex(concat(ecdh, enc.sharedSecret)));
    expect(toHex(await client.complete(server.share))).toBe(toHex(server.secret));
  });
});

describe('FIPS 203 §7.2 encapsulation key check (draft-ietf-tls-mlkem §4.2)', () => {
  /** Sets the first 12-bit coefficient of the ek at `at` to 4095 ≥ q = 3329. */
  function unreduce(share: Uint8Array, at: number): Uint8Array {
    const out = share.slice();
    out[at] = 0xff;
    out[at + 1] = (out[at + 1] as number) | 0x0f;
    return out;
  }
  const cases = [
    ['MLKEM512', NamedGroup.MLKEM512, 0],
    ['MLKEM768', NamedGroup.MLKEM768, 0],
    ['MLKEM1024', NamedGroup.MLKEM1024, 0],
    ['X25519MLKEM768', NamedGroup.X25519MLKEM768, 0],
    ['SecP256r1MLKEM768', NamedGroup.SecP256r1MLKEM768, 65],
    ['SecP384r1MLKEM1024', NamedGroup.SecP384r1MLKEM1024, 97],
  ] as const;

  it.each(cases)('%s: the server refuses an ek with an unreduced coefficient', async (_n, g, at) => {
    const kex = kexFor(g);
    const client = await kex.generate();
    await expectIllegal(kex.encapsulate(unreduce(client.share, at)));
    // The same key with the coefficient reduced is accepted: the check is exactly the modulus.
    await expect(kex.encapsulate(client.share)).resolves.toBeDefined();
  });
});

describe('X25519 all-zero shared secret (RFC 8446 §7.4.2, RFC 7748 §6.1)', () => {
  // Low-order u-coordinates: 0, 1, and a point of order 8 (RFC 7748 §6.1 lists these classes).
  const lowOrder = [
    '0000000000000000000000000000000000000000000000000000000000000000',
    '0100000000000000000000000000000000000000000000000000000000000000',
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  ];

  it.each(lowOrder)('x25519 refuses %s on both sides', async (hex) => {
    const kex = kexFor(NamedGroup.x25519);
    await expectIllegal(kex.encapsulate(fromHex(hex)));
    const client = await kex.generate();
    await expectIllegal(client.complete(fromHex(hex)));
  });

  it.each(lowOrder)('X25519MLKEM768 refuses %s in its X25519 half on both sides', async (hex) => {
    const kex = kexFor(NamedGroup.X25519MLKEM768);
    const client = await kex.generate();
    await expectIllegal(kex.encapsulate(concat(client.share.subarray(0, 1184), fromHex(hex))));
    const { share } = await kex.encapsulate(client.share);
    await expectIllegal(client.complete(concat(share.subarray(0, 1088), fromHex(hex))));
  });
});

describe('NIST curve points (RFC 8446 §4.2.8.2: uncompressed, on the curve)', () => {
  const kex = kexFor(NamedGroup.secp256r1);
  const valid = p256.getPublicKey(fromHex('55'.repeat(32)), false);

  it('accepts a valid uncompressed point', async () => {
    await expect(kex.encapsulate(valid)).resolves.toBeDefined();
  });

  it('refuses a point off the curve', async () => {
    const offCurve = valid.slice();
    offCurve[64] = (offCurve[64] as number) ^ 0x01;
    await expectIllegal(kex.encapsulate(offCurve));
    const client = await kex.generate();
    await expectIllegal(client.complete(offCurve));
  });

  it('refuses the compressed form, 33 bytes or padded to 65', async () => {
    const compressed = p256.getPublicKey(fromHex('55'.repeat(32)), true);
    await expectIllegal(kex.encapsulate(compressed));
    await expectIllegal(kex.encapsulate(concat(compressed, new Uint8Array(32))));
    // X9.62 "hybrid" form 0x06/0x07 carries the same coordinates but is not TLS 1.3's encoding.
    const hybridForm = valid.slice();
    hybridForm[0] = 0x06 | ((valid[64] as number) & 1);
    await expectIllegal(kex.encapsulate(hybridForm));
  });

  it('refuses the identity in any 65-byte spelling', async () => {
    await expectIllegal(kex.encapsulate(concat(new Uint8Array([4]), new Uint8Array(64))));
    await expectIllegal(kex.encapsulate(new Uint8Array(65)));
  });

  it('refuses a bad point in the ECDH half of SecP256r1MLKEM768', async () => {
    const hybrid = kexFor(NamedGroup.SecP256r1MLKEM768);
    const client = await hybrid.generate();
    const bad = client.share.slice();
    bad[64] = (bad[64] as number) ^ 0x01;
    await expectIllegal(hybrid.encapsulate(bad));
  });

  it('redraws a scalar that is zero or not below the group order', async () => {
    const n = p256.Point.Fn.ORDER;
    const order = fromHex(n.toString(16).padStart(64, '0'));
    const good = fromHex('55'.repeat(32));
    const client = await nobleKeyExchange(NamedGroup.secp256r1, 'noble', scriptedRandom([new Uint8Array(32), order, good])).generate();
    expect(toHex(client.share)).toBe(toHex(valid));
  });
});

describe('randomness: deterministic and in the documented order', () => {
  it.each(groupCases)('%s: the same seed gives the same shares and secret', async (_name, g) => {
    const run = async () => {
      const kex = kexFor(g, seededRandom('determinism'));
      const client = await kex.generate();
      const server = await kex.encapsulate(client.share);
      return [client.share, server.share, server.secret].map(toHex);
    };
    expect(await run()).toEqual(await run());
  });

  // [name, draws by generate, draws by encapsulate, group]
  const drawOrder = [
    ['x25519', [32], [32], NamedGroup.x25519],
    ['secp256r1', [32], [32], NamedGroup.secp256r1],
    ['secp384r1', [48], [48], NamedGroup.secp384r1],
    ['MLKEM512', [64], [32], NamedGroup.MLKEM512],
    ['MLKEM768', [64], [32], NamedGroup.MLKEM768],
    ['MLKEM1024', [64], [32], NamedGroup.MLKEM1024],
    ['X25519MLKEM768', [64, 32], [32, 32], NamedGroup.X25519MLKEM768],
    ['SecP256r1MLKEM768', [32, 64], [32, 32], NamedGroup.SecP256r1MLKEM768],
    ['SecP384r1MLKEM1024', [48, 64], [48, 32], NamedGroup.SecP384r1MLKEM1024],
  ] as const;

  it.each(drawOrder)('%s: generate draws %j, encapsulate draws %j', async (_n, gen, enc, g) => {
    const rec = recording('order');
    const kex = nobleKeyExchange(g, 'noble', rec.random);
    const client = await kex.generate();
    expect(rec.draws).toEqual(gen);
    rec.draws.length = 0;
    await kex.encapsulate(client.share);
    expect(rec.draws).toEqual(enc);
  });

  it('draws nothing for a share of the wrong length', async () => {
    const rec = recording('none');
    await expectIllegal(nobleKeyExchange(NamedGroup.X25519MLKEM768, 'noble', rec.random).encapsulate(new Uint8Array(1215)));
    expect(rec.draws).toEqual([]);
  });
});

describe('RFC 8448 traces replayed through scriptedRandom', () => {
  it('§3: the client x25519 key share and the (EC)DHE secret', async () => {
    const clientPriv = fromHex('49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005');
    const clientPub = '99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c';
    const serverPriv = fromHex('b1580eeadf6dd589b8ef4f2d5652578cc810e9980191ec8d058308cea216a21e');
    const serverPub = 'c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f';
    // "extract secret handshake": IKM is the shared secret.
    const ikm = '8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d';

    const client = await nobleKeyExchange(NamedGroup.x25519, 'noble', scriptedRandom([clientPriv])).generate();
    expect(toHex(client.share)).toBe(clientPub);
    const server = await nobleKeyExchange(NamedGroup.x25519, 'noble', scriptedRandom([serverPriv])).encapsulate(client.share);
    expect(toHex(server.share)).toBe(serverPub);
    expect(toHex(server.secret)).toBe(ikm);
    expect(toHex(await client.complete(server.share))).toBe(ikm);
  });

  it('§5: the P-256 key shares after HelloRetryRequest and the (EC)DHE secret', async () => {
    const clientPriv = fromHex('ab5473467e19346ceb0a0414e41da21d4d2445bc3025afe97c4e8dc8d513da39');
    const clientPub =
      '04a6da7392ec591e17abfd535964b99894d13befb221b3def2ebe3830eac8f0151812677c4d6d2237e85cf01d6910cfb83954e76ba7352830534159897e8065780';
    const serverPriv = fromHex('8c510601f9765bfb8ed693449a48989859b5cfa879cb9f5443c41c5ff10634ed');
    const serverPub =
      '04583e054b7a66672ae020ad9d2686fcc85b5ad41a134a0f03ee72b893052bd85b4c8de6776f5b04ac07d83540eab3e3d9c547bc6528c4317d294686093a6cad7d';
    const ikm = 'c142ce13ca11b5c2233652e63ad3d97844f1621fbfb9de69d547dc8fedeabeb4';

    const client = await nobleKeyExchange(NamedGroup.secp256r1, 'noble', scriptedRandom([clientPriv])).generate();
    expect(toHex(client.share)).toBe(clientPub);
    const server = await nobleKeyExchange(NamedGroup.secp256r1, 'noble', scriptedRandom([serverPriv])).encapsulate(client.share);
    expect(toHex(server.share)).toBe(serverPub);
    expect(toHex(server.secret)).toBe(ikm);
    expect(toHex(await client.complete(server.share))).toBe(ikm);
  });
});

describe('arbitrary bytes from the peer only ever raise PqtlsError', () => {
  /** Mostly the exact length (so the parsers run), sometimes any length. */
  const shareOf = (len: number) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.uint8Array({ minLength: len, maxLength: len }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: len + 4 }) },
    );

  it.each(groupCases)('%s', async (_name, g) => {
    const [clientLen, serverLen] = sizes(g);
    const kex = kexFor(g);
    const outcome = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        expect(e).toBeInstanceOf(PqtlsError);
        expect((e as PqtlsError).alert).toBe(AlertDescription.illegal_parameter);
      }
    };
    await fc.assert(
      fc.asyncProperty(shareOf(clientLen), shareOf(serverLen), async (clientShare, serverShare) => {
        await outcome(kex.encapsulate(clientShare));
        const client = await kex.generate();
        await outcome(client.complete(serverShare));
      }),
      seeded(0x8446, { numRuns: 25 }),
    );
  });
});
