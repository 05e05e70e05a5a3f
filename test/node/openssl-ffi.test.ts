/**
 * The node provider's AEADs and QUIC header protection on the process's own
 * OpenSSL through koffi (src/node/crypto/openssl-ffi.ts): one OpenSSL context
 * per key and direction, re-nonced for every record, so these tests care most
 * about what a reused context could get wrong — the second, hundredth and
 * post-failure operation on a key, in-place sealing, and Uint8Array views
 * that start inside a larger buffer (koffi must pass `byteOffset` on).
 *
 * The suite's Node 20 (OpenSSL 3.0) runs this file, and
 * test/node/node24.test.ts runs it again under Node 24 (OpenSSL 3.5).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { concat, fromHex, toHex, utf8 } from '../../src/bytes.js';
import { AlertDescription, ConfigError } from '../../src/errors.js';
import { nodeHkdfExpand, nodeHkdfExtract, nodeHmac } from '../../src/node/crypto/hmac.js';
import { opensslFfi, opensslFfiLiveContexts, opensslFfiStatus, selfTest, type OpensslFfi } from '../../src/node/crypto/openssl-ffi.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import { createNobleProvider, type AeadAlgorithm, type AeadKey, type HashAlgorithm, type HeaderProtectionAlgorithm } from '../../src/pq/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { seeded } from '../helpers/fc.js';
import { connectPair, drain, pinnedKeyVerifier, pump, testKey } from '../helpers/tls-pair.js';
import { CipherSuite } from '../../src/tls13/cipher-suites.js';
import { loadWycheproof, str } from '../helpers/wycheproof.js';
import { loadAppendixA } from '../quic/rfc-vectors.js';

const AEADS: readonly AeadAlgorithm[] = ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20-POLY1305'];
const keyLength = (alg: AeadAlgorithm | HeaderProtectionAlgorithm): number => (alg === 'AES-128-GCM' || alg === 'AES-128-ECB' ? 16 : 32);
const noble = createNobleProvider({ random: seededRandom('ffi noble') });

function backend(): OpensslFfi {
  const b = opensslFfi();
  if (!b) throw new Error(`the OpenSSL FFI backend is unavailable: ${opensslFfiStatus().reason ?? '?'}`);
  return b;
}

/** `bytes` copied into a larger buffer at `offset`, so the view's byteOffset is not 0 and bytes lie on both sides. */
function at(bytes: Uint8Array, offset: number, room = 0): Uint8Array {
  const buf = new Uint8Array(offset + bytes.length + room + 7).fill(0xa5);
  buf.set(bytes, offset);
  return buf.subarray(offset, offset + bytes.length + room);
}

/** sealInto in place: plaintext at the start of `output`, inside a larger buffer; the bytes around are untouched. */
function sealInPlace(k: AeadKey, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, offset: number): Uint8Array {
  const out = at(plaintext, offset, 16);
  k.sealInto!(nonce, aad, out.subarray(0, plaintext.length), out);
  const whole = new Uint8Array(out.buffer);
  expect(whole[offset - 1 >= 0 ? offset - 1 : whole.length - 1]).toBe(0xa5);
  expect(whole[offset + out.length]).toBe(0xa5);
  return out.slice();
}

describe('binding the process\'s OpenSSL through koffi', () => {
  it('is available on this runtime (koffi installed, libcrypto\'s symbols exported by node) and passed its self-test', () => {
    expect(opensslFfiStatus()).toEqual({ available: true });
  });

  it('the self-test catches a binding that seals a wrong byte, opens a forged record, or masks wrongly', () => {
    const real = backend();
    const corrupt = (f: (k: AeadKey) => AeadKey): OpensslFfi => ({ ...real, aead: (alg, key) => f(real.aead(alg, key)) });
    expect(selfTest(real)).toBeUndefined();
    const flipsLastByte = corrupt((k) => ({
      ...k,
      sealInto: (n, a, p, o) => {
        k.sealInto!(n, a, p, o);
        o[o.length - 1] = (o[o.length - 1] as number) ^ 1;
      },
    }));
    expect(selfTest(flipsLastByte)).toBe('AES-128-GCM seal');
    // A gather that drops a part's ciphertext (as if each update restarted the stream) is caught too.
    const gathersWrongly = corrupt((k) => ({
      ...k,
      sealGather: (n, a, parts, o) => {
        k.sealGather!(n, a, parts, o);
        o[0] = (o[0] as number) ^ 1;
      },
    }));
    expect(selfTest(gathersWrongly)).toBe('AES-128-GCM gathered seal');
    const acceptsForgery = corrupt((k) => ({ ...k, openSync: (n, a, c) => k.openSync!(n, a, c) ?? new Uint8Array(c.length - 16) }));
    expect(selfTest(acceptsForgery)).toBe('AES-128-GCM accepted a forged tag');
    const badMask: OpensslFfi = { ...real, headerProtection: (alg, key) => ({ ...real.headerProtection(alg, key), maskSync: () => new Uint8Array(5) }) };
    expect(selfTest(badMask)).toBe('AES-128-ECB header protection');
    const badDigest: OpensslFfi = { ...real, digestInto: (alg, data, out) => real.digestInto(alg === 'SHA-384' ? 'SHA-512' : alg, data, out) };
    expect(selfTest(badDigest)).toBe('SHA-384 digest');
    // An incremental hash whose read finalises the context itself (a second read then differs) is caught.
    const finalisingRead: OpensslFfi = {
      ...real,
      hash: (alg) => {
        const fn = real.hash(alg);
        return { ...fn, create: () => { const h = fn.create(); let read = false; return { ...h, update(d) { h.update(d); return this; }, clone: () => h.clone(), digest: () => (read ? new Uint8Array(fn.outputLength) : ((read = true), h.digest())) }; } };
      },
    };
    expect(selfTest(finalisingRead)).toBe('SHA-256 incremental digest');
  });

  it('a key\'s OpenSSL contexts are freed once the key is garbage, and not while any of its functions is reachable', () => {
    // A child with --expose-gc: vitest's workers cannot collect on demand.
    const script = fileURLToPath(new URL('./openssl-ffi-gc.mjs', import.meta.url));
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { made: number; left: number; kept: number; sealsRight: number };
    // 2000 AEAD keys (two contexts each) and 2000 header-protection keys (one each); 20 AEAD keys kept through `sealInto` alone.
    expect(r.made).toBe(6000);
    expect(r.kept).toBe(20);
    expect(r.left).toBeGreaterThanOrEqual(40);
    // The last few keys may still sit in a register or a stack slot when the collector runs.
    expect(r.left).toBeLessThan(60);
    expect(r.sealsRight).toBe(20);
  });

  it('the node provider keys its AEADs and header protection here, and on node:crypto with ffi: false or PQTLS_FFI=0', async () => {
    // node:crypto's keys hand out `sealParts` (its output comes in pieces); these seal into the caller's array.
    expect((await createNodeCryptoProvider().aead('AES-128-GCM', new Uint8Array(16))).sealParts).toBeUndefined();
    expect((await createNodeCryptoProvider({ ffi: false }).aead('AES-128-GCM', new Uint8Array(16))).sealParts).toBeTypeOf('function');
    process.env['PQTLS_FFI'] = '0';
    try {
      expect((await createNodeCryptoProvider().aead('AES-128-GCM', new Uint8Array(16))).sealParts).toBeTypeOf('function');
    } finally {
      delete process.env['PQTLS_FFI'];
    }
  });
});

describe('Wycheproof through the FFI keys: in place, at an offset, and on reused contexts', () => {
  afterEach(() => delete process.env['PQTLS_FFI']);

  it.each([['aes_gcm_test.json', 'AES-GCM'], ['chacha20_poly1305_test.json', 'CHACHA20-POLY1305']] as const)('%s', (name, kind) => {
    const ffi = backend();
    const file = loadWycheproof(name);
    const mismatches: string[] = [];
    let ran = 0;
    for (const g of file.testGroups) {
      const keySize = g['keySize'] as number;
      // TLS and QUIC use only 96-bit nonces, 128-bit tags and AES-128/256: the provider contract refuses the rest (wycheproof-node.test.ts checks how).
      if (g['ivSize'] !== 96 || g['tagSize'] !== 128 || (kind === 'AES-GCM' && keySize !== 128 && keySize !== 256)) continue;
      const alg: AeadAlgorithm = kind === 'CHACHA20-POLY1305' ? kind : keySize === 256 ? 'AES-256-GCM' : 'AES-128-GCM';
      // One key per distinct key in the group: vectors sharing a key run on the same, reused contexts.
      const keys = new Map<string, AeadKey>();
      for (const t of g.tests) {
        ran++;
        const keyHex = str(t, 'key');
        let k = keys.get(keyHex);
        if (!k) keys.set(keyHex, (k = ffi.aead(alg, fromHex(keyHex))));
        const [iv, aad, msg] = [fromHex(str(t, 'iv')), fromHex(str(t, 'aad')), fromHex(str(t, 'msg'))];
        const sealed = concat(fromHex(str(t, 'ct')), fromHex(str(t, 'tag')));
        const offset = t.tcId % 8;
        const opened = k.openSync!(at(iv, offset), at(aad, offset + 1), at(sealed, offset + 2));
        if (t.result === 'valid') {
          const got = toHex(sealInPlace(k, at(iv, 3), at(aad, 5), msg, offset));
          if (got !== toHex(sealed)) mismatches.push(`tcId ${t.tcId}: sealed ${got}`);
          if (opened === null || toHex(opened) !== toHex(msg)) mismatches.push(`tcId ${t.tcId}: opened ${opened && toHex(opened)}`);
        } else if (opened !== null) {
          mismatches.push(`tcId ${t.tcId} (${t.comment}): invalid vector opened`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(ran).toBeGreaterThan(100);
  });
});

describe('RFC 9001 and RFC 9369 Appendix A packets through the FFI keys', () => {
  const nonceFor = (iv: Uint8Array, pn: number): Uint8Array => {
    const n = iv.slice();
    for (let i = 0; i < 6; i++) n[11 - i] = (n[11 - i] as number) ^ (Math.floor(pn / 2 ** (8 * i)) & 0xff);
    return n;
  };

  it.each(['rfc9001', 'rfc9369'] as const)('%s: A.2 client Initial, A.3 server Initial (AES-128-GCM, AES-128-ECB) and A.5 (ChaCha20-Poly1305, ChaCha20)', (rfc) => {
    const ffi = backend();
    const v = loadAppendixA(rfc);
    const cases = [
      { side: v.keys.client, aead: 'AES-128-GCM', hp: 'AES-128-ECB', pn: v.clientInitial.packetNumber, header: v.clientInitial.header, packet: v.clientInitial.packet, sample: v.clientInitial.sample, mask: v.clientInitial.mask,
        // §A.2: the CRYPTO frame, then PADDING to the stated length.
        payload: concat(fromHex(v.clientInitial.cryptoFrame), new Uint8Array(v.clientInitial.payloadLength - fromHex(v.clientInitial.cryptoFrame).length)) },
      { side: v.keys.server, aead: 'AES-128-GCM', hp: 'AES-128-ECB', pn: v.serverInitial.packetNumber, header: v.serverInitial.header, packet: v.serverInitial.packet, sample: v.serverInitial.sample, mask: v.serverInitial.mask, payload: fromHex(v.serverInitial.payload) },
      { side: v.chacha20ShortHeader, aead: 'CHACHA20-POLY1305', hp: 'CHACHA20', pn: v.chacha20ShortHeader.packetNumber, header: v.chacha20ShortHeader.unprotectedHeader, packet: v.chacha20ShortHeader.packet, sample: v.chacha20ShortHeader.sample, mask: v.chacha20ShortHeader.mask, payload: fromHex(v.chacha20ShortHeader.payload) },
    ] as const;
    for (const c of cases) {
      const k = ffi.aead(c.aead, fromHex(c.side.key));
      const header = fromHex(c.header);
      const nonce = nonceFor(fromHex(c.side.iv), c.pn);
      const body = fromHex(c.packet).subarray(header.length);
      // The packet as QUIC lays it out: header, then the payload sealed in place right behind it.
      const datagram = concat(header, c.payload, new Uint8Array(16));
      k.sealInto!(nonce, datagram.subarray(0, header.length), datagram.subarray(header.length, header.length + c.payload.length), datagram.subarray(header.length));
      expect(toHex(datagram.subarray(header.length))).toBe(toHex(body));
      expect(toHex(k.openSync!(nonce, header, body) ?? new Uint8Array(0))).toBe(toHex(c.payload));
      const hp = ffi.headerProtection(c.hp, fromHex(c.side.hp));
      expect(toHex(hp.maskSync!(at(fromHex(c.sample), 9)))).toBe(c.mask);
    }
  });
});

describe('equal to noble (fast-check, seeded)', () => {
  it('any sequence of seals, opens and forged opens on one key: every seal is noble\'s, every open its plaintext, every forgery null with its output zeroed', async () => {
    const ffi = backend();
    const op = fc.record({
      nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }),
      aad: fc.uint8Array({ maxLength: 40 }),
      plaintext: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 200, maxLength: 2000 })),
      offset: fc.integer({ min: 0, max: 15 }),
      forge: fc.option(fc.nat(), { nil: undefined }),
    });
    await fc.assert(fc.asyncProperty(fc.constantFrom(...AEADS), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(op, { minLength: 1, maxLength: 8 }), async (alg, keyBytes, ops) => {
      const key = keyBytes.subarray(0, keyLength(alg));
      const [a, b] = [ffi.aead(alg, at(key, 3)), await noble.aead(alg, key)];
      for (const o of ops) {
        const want = await b.seal(o.nonce, o.aad, o.plaintext);
        expect(toHex(sealInPlace(a, o.nonce, o.aad, o.plaintext, o.offset))).toBe(toHex(want));
        // Sealing into a separate output leaves the plaintext as it was.
        const plaintext = at(o.plaintext, o.offset);
        const out = new Uint8Array(o.plaintext.length + 16);
        a.sealInto!(o.nonce, o.aad, plaintext, out);
        expect([toHex(out), toHex(plaintext)]).toEqual([toHex(want), toHex(o.plaintext)]);
        expect(toHex(await a.seal(o.nonce, o.aad, o.plaintext))).toBe(toHex(want));
        const sealed = at(want, o.offset);
        if (o.forge === undefined) {
          expect(toHex(a.openSync!(o.nonce, o.aad, sealed) ?? Uint8Array.of(0xee))).toBe(toHex(o.plaintext));
          expect(toHex((await a.open(o.nonce, o.aad, sealed)) ?? Uint8Array.of(0xee))).toBe(toHex(o.plaintext));
        } else {
          const bent = sealed.slice();
          bent[o.forge % bent.length] = (bent[o.forge % bent.length] as number) ^ (1 << (o.forge % 8));
          expect(a.openSync!(o.nonce, o.aad, bent)).toBeNull();
          expect(await b.open(o.nonce, o.aad, bent)).toBeNull();
        }
      }
    }), seeded(90341, { numRuns: 120 }));
  });

  it('a seal gathered from parts (some in place in the output, some apart, any lengths) is noble\'s seal of their concatenation', async () => {
    const ffi = backend();
    const op = fc.record({
      nonce: fc.uint8Array({ minLength: 12, maxLength: 12 }),
      aad: fc.uint8Array({ maxLength: 40 }),
      parts: fc.array(fc.record({ bytes: fc.uint8Array({ maxLength: 300 }), inPlace: fc.boolean() }), { maxLength: 6 }),
      offset: fc.integer({ min: 0, max: 15 }),
    });
    await fc.assert(fc.asyncProperty(fc.constantFrom(...AEADS), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(op, { minLength: 1, maxLength: 6 }), async (alg, keyBytes, ops) => {
      const key = keyBytes.subarray(0, keyLength(alg));
      const [a, b] = [ffi.aead(alg, key), await noble.aead(alg, key)];
      for (const o of ops) {
        const plaintext = concat(...o.parts.map((p) => p.bytes));
        const want = await b.seal(o.nonce, o.aad, plaintext);
        const buf = new Uint8Array(o.offset + plaintext.length + 16 + 3).fill(0x5a);
        const output = buf.subarray(o.offset, o.offset + plaintext.length + 16);
        const parts: Uint8Array[] = [];
        let pos = 0;
        for (const p of o.parts) {
          if (p.inPlace) {
            output.set(p.bytes, pos);
            parts.push(output.subarray(pos, pos + p.bytes.length));
          } else {
            parts.push(at(p.bytes, 5));
          }
          pos += p.bytes.length;
        }
        a.sealGather!(o.nonce, o.aad, parts, output);
        expect(toHex(output)).toBe(toHex(want));
        expect(buf.subarray(0, o.offset).every((x) => x === 0x5a) && buf.subarray(o.offset + output.length).every((x) => x === 0x5a)).toBe(true);
      }
    }), seeded(90342, { numRuns: 120 }));
  });

  it('header-protection masks are noble\'s for any sample, at any offset, many per key (RFC 9001 §5.4.3, §5.4.4)', async () => {
    const ffi = backend();
    const algs: readonly HeaderProtectionAlgorithm[] = ['AES-128-ECB', 'AES-256-ECB', 'CHACHA20'];
    await fc.assert(fc.asyncProperty(fc.constantFrom(...algs), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 6 }), async (alg, keyBytes, samples) => {
      const key = keyBytes.subarray(0, keyLength(alg));
      const [a, b] = [ffi.headerProtection(alg, key), await noble.headerProtection(alg, key)];
      for (const [sample, offset] of samples) {
        const want = toHex(await b.mask(sample));
        expect(toHex(a.maskSync!(at(sample, offset)))).toBe(want);
        expect(toHex(await a.mask(sample))).toBe(want);
      }
    }), seeded(51817, { numRuns: 80 }));
  });
});

describe('HMAC and HKDF on the FFI digest (RFC 2104, RFC 5869)', () => {
  it('equal noble\'s and node:crypto\'s for any key, message and length, with keys longer than a block hashed first', async () => {
    const digestInto = backend().digestInto;
    const hashes: readonly HashAlgorithm[] = ['SHA-256', 'SHA-384', 'SHA-512'];
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...hashes), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 40 }),
      fc.integer({ min: 1, max: 600 }),
      async (alg, key, data, info, length) => {
        const want = toHex(await noble.hmac(alg, key, data));
        expect([toHex(nodeHmac(alg, key, data, digestInto)), toHex(nodeHmac(alg, key, data))]).toEqual([want, want]);
        const prk = nodeHkdfExtract(alg, key, data, digestInto);
        expect(toHex(prk)).toBe(toHex(await noble.hkdfExtract(alg, key, data)));
        const okm = toHex(await noble.hkdfExpand(alg, prk, info, length));
        expect([toHex(nodeHkdfExpand(alg, prk, info, length, digestInto)), toHex(nodeHkdfExpand(alg, prk, info, length))]).toEqual([okm, okm]);
      },
    ), seeded(27733, { numRuns: 100 }));
  });

  it('incremental hashing (a transcript: updates, reads mid-way, forks) equals noble\'s for any sequence of messages', () => {
    const hashes: readonly HashAlgorithm[] = ['SHA-256', 'SHA-384', 'SHA-512'];
    fc.assert(fc.property(
      fc.constantFrom(...hashes),
      fc.array(fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('update', 'read', 'fork')), { maxLength: 12 }),
      (alg, steps) => {
        const ours = backend().hash(alg).create();
        const theirs = noble.hash(alg).create();
        const forks: [ReturnType<typeof ours.clone>, ReturnType<typeof theirs.clone>][] = [];
        for (const [msg, op] of steps) {
          ours.update(msg);
          theirs.update(msg);
          if (op === 'read') expect(toHex(ours.digest())).toBe(toHex(theirs.digest()));
          if (op === 'fork') forks.push([ours.clone(), theirs.clone()]);
        }
        expect(toHex(ours.digest())).toBe(toHex(theirs.digest()));
        // A fork goes its own way: what the original took after it is not in it.
        for (const [a, b] of forks) expect(toHex(a.update(Uint8Array.of(1)).digest())).toBe(toHex(b.update(Uint8Array.of(1)).digest()));
        const all = concat(...steps.map(([m]) => m));
        expect(toHex(backend().hash(alg).digest(all))).toBe(toHex(noble.hash(alg).digest(all)));
      },
    ), seeded(27734, { numRuns: 100 }));
  });

  it('the node provider\'s transcript hashes are these', () => {
    const h = createNodeCryptoProvider().hash('SHA-256');
    expect(h).toBe(backend().hash('SHA-256'));
    expect(createNodeCryptoProvider({ ffi: false }).hash('SHA-256')).not.toBe(h);
  });

  it('a digest written into too small an output is ConfigError', () => {
    expect(() => backend().digestInto('SHA-384', new Uint8Array(3), new Uint8Array(47))).toThrow(ConfigError);
  });

  it('a digest of the first `length` bytes is the digest of those bytes; a length past the array (read by C as is) is ConfigError', async () => {
    const { digestInto } = backend();
    const data = at(utf8('abcdefgh'), 5);
    const out = new Uint8Array(32);
    digestInto('SHA-256', data, out, 3);
    expect(toHex(out)).toBe(toHex(await noble.hash('SHA-256').digest(utf8('abc'))));
    for (const bad of [9, -1, 1.5, Number.NaN]) expect(() => digestInto('SHA-256', data, out, bad)).toThrow(ConfigError);
  });
});

describe('misuse and bad input, as on node:crypto and noble', () => {
  it('wrong key, nonce or output lengths are ConfigError when sealing; opening bad input is null, never a throw', () => {
    const ffi = backend();
    expect(() => ffi.aead('AES-128-GCM', new Uint8Array(32))).toThrow(ConfigError);
    expect(() => ffi.aead('CHACHA20-POLY1305', new Uint8Array(16))).toThrow(ConfigError);
    expect(() => ffi.headerProtection('AES-256-ECB', new Uint8Array(16))).toThrow(ConfigError);
    for (const alg of AEADS) {
      const k = ffi.aead(alg, new Uint8Array(keyLength(alg)));
      expect(() => k.sealInto!(new Uint8Array(8), new Uint8Array(0), new Uint8Array(1), new Uint8Array(17))).toThrow(ConfigError);
      expect(() => k.sealInto!(new Uint8Array(12), new Uint8Array(0), new Uint8Array(1), new Uint8Array(18))).toThrow(ConfigError);
      expect(k.openSync!(new Uint8Array(12), new Uint8Array(0), new Uint8Array(15))).toBeNull();
      expect(k.openSync!(new Uint8Array(16), new Uint8Array(0), new Uint8Array(32))).toBeNull();
      // After all that, the contexts still work.
      const sealed = new Uint8Array(21);
      k.sealInto!(new Uint8Array(12), Uint8Array.of(1), Uint8Array.of(1, 2, 3, 4, 5), sealed);
      expect(toHex(k.openSync!(new Uint8Array(12), Uint8Array.of(1), sealed) ?? new Uint8Array(0))).toBe('0102030405');
    }
    for (const alg of ['AES-128-ECB', 'AES-256-ECB', 'CHACHA20'] as const) {
      expect(() => ffi.headerProtection(alg, new Uint8Array(keyLength(alg))).maskSync!(new Uint8Array(15))).toThrow(ConfigError);
    }
  });

  it('an output that overlaps the plaintext other than exactly (outside the contract) still gets noble\'s bytes, as noble gives', async () => {
    const k = backend().aead('AES-128-GCM', new Uint8Array(16));
    const plaintext = Uint8Array.from({ length: 300 }, (_, i) => i);
    const want = toHex(await (await noble.aead('AES-128-GCM', new Uint8Array(16))).seal(new Uint8Array(12), new Uint8Array(0), plaintext));
    for (const shift of [1, 17, -1, -40]) {
      const buf = new Uint8Array(400);
      buf.set(plaintext, 50);
      const output = buf.subarray(50 + shift, 50 + shift + 316);
      k.sealInto!(new Uint8Array(12), new Uint8Array(0), buf.subarray(50, 350), output);
      expect(toHex(output), `shift ${shift}`).toBe(want);
    }
  });
});

describe('record keys give their OpenSSL contexts back at once (AeadKey.dispose), not at some later full GC', () => {
  it('dispose frees both contexts, is idempotent, and every later seal or open throws rather than touch freed memory', () => {
    const b = backend();
    const before = opensslFfiLiveContexts();
    const k = b.aead('AES-128-GCM', new Uint8Array(16));
    const nonce0 = new Uint8Array(12);
    k.sealInto!(nonce0, new Uint8Array(0), new Uint8Array(4), new Uint8Array(20));
    k.openInto!(nonce0, new Uint8Array(0), new Uint8Array(20), new Uint8Array(4));
    expect(opensslFfiLiveContexts() - before).toBe(2);
    k.dispose?.();
    k.dispose?.();
    expect(opensslFfiLiveContexts() - before).toBe(0);
    const nonce = new Uint8Array(12);
    expect(() => k.sealInto!(nonce, new Uint8Array(0), new Uint8Array(4), new Uint8Array(20))).toThrow(/after dispose/);
    expect(() => k.sealGather!(nonce, new Uint8Array(0), [new Uint8Array(4)], new Uint8Array(20))).toThrow(/after dispose/);
    expect(() => k.openInto!(nonce, new Uint8Array(0), new Uint8Array(20), new Uint8Array(4))).toThrow(/after dispose/);
  });

  it('keys a direction\'s context only on its first use: a record key that only seals (or only opens) holds one', () => {
    const b = backend();
    const before = opensslFfiLiveContexts();
    const key = new Uint8Array(16).fill(7);
    const nonce = new Uint8Array(12).fill(1);
    const aad = new Uint8Array([23, 3, 3, 0, 21]);
    const sealer = b.aead('AES-128-GCM', key);
    const opener = b.aead('AES-128-GCM', key);
    expect(opensslFfiLiveContexts() - before).toBe(0);
    const sealed = new Uint8Array(21);
    sealer.sealInto!(nonce, aad, utf8('hello'), sealed);
    sealer.sealInto!(nonce, aad, utf8('hello'), new Uint8Array(21));
    expect(opensslFfiLiveContexts() - before).toBe(1);
    const opened = new Uint8Array(5);
    expect(opener.openInto!(nonce, aad, sealed, opened)).toBe(true);
    expect(opened).toEqual(utf8('hello'));
    expect(opensslFfiLiveContexts() - before).toBe(2);
    sealer.dispose?.();
    opener.dispose?.();
    expect(opensslFfiLiveContexts() - before).toBe(0);
    // Disposed before it was ever used: no context is made afterwards either.
    const unused = b.aead('AES-128-GCM', key);
    unused.dispose?.();
    expect(() => unused.sealInto!(nonce, aad, utf8('hello'), new Uint8Array(21))).toThrow(/after dispose/);
    expect(() => unused.openInto!(nonce, aad, sealed, new Uint8Array(5))).toThrow(/after dispose/);
    expect(opensslFfiLiveContexts() - before).toBe(0);
  });

  it('a TLS connection frees its handshake keys when the application keys replace them (RFC 8446 §7.3), and the rest on dispose()', async () => {
    const provider = createNodeCryptoProvider({ random: seededRandom('ffi dispose') });
    const key = await testKey(provider, 'ed25519');
    const before = opensslFfiLiveContexts();
    const { client, server } = await connectPair(
      { provider, verifier: pinnedKeyVerifier(key), cipherSuites: [CipherSuite.TLS_AES_128_GCM_SHA256] },
      { provider, certificate: { chain: [key.publicKey], ...key } },
    );
    expect(client.handshakeInfo).toBeDefined();
    expect(server.handshakeInfo).toBeDefined();
    // The handshake keys' contexts are gone; the application keys make theirs on first use (none yet).
    expect(opensslFfiLiveContexts() - before).toBe(0);
    await client.write(utf8('ping'));
    await pump(client, server);
    await server.write(utf8('pong'));
    await pump(server, client);
    expect(drain(server)).toContainEqual({ type: 'data', data: utf8('ping') });
    expect(drain(client)).toContainEqual({ type: 'data', data: utf8('pong') });
    // Each side now holds one read and one write key, with one context each: its only direction.
    expect(opensslFfiLiveContexts() - before).toBe(4);
    client.dispose();
    server.dispose();
    expect(opensslFfiLiveContexts() - before).toBe(0);
    // A disposed connection never falls back to plaintext: the write fails and nothing goes out.
    await client.write(utf8('after dispose'));
    expect(client.error?.alert).toBe(AlertDescription.internal_error);
    expect(client.takeOutput().length).toBe(0);
  });
});
