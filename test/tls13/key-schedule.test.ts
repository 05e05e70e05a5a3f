/**
 * The parts of the key schedule RFC 8448 has no trace for: KeyUpdate (§7.2)
 * and TLS-Exporter (§7.5), checked against HKDF computed directly with
 * @noble/hashes and HkdfLabel bytes written out by hand; and the cipher
 * suite table (§B.4) that sizes keys and IVs (§7.3).
 */
import { expand } from '@noble/hashes/hkdf.js';
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex, utf8 } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { seededRandom } from '../../src/testing/index.js';
import {
  cipherSuiteInfo, cipherSuiteName, CipherSuite, DEFAULT_CIPHER_SUITES, isCipherSuite,
} from '../../src/tls13/cipher-suites.js';
import { ContentType } from '../../src/tls13/content-type.js';
import { deriveTrafficKeys, KeySchedule, nextTrafficSecret, tlsExporter } from '../../src/tls13/key-schedule.js';
import { RecordProtector } from '../../src/tls13/record-protection.js';
import { bytes, simple1Rtt } from '../helpers/rfc8448.js';

const provider = createNobleProvider({ random: seededRandom('key schedule') });

/** HkdfLabel (§7.1) spelled out byte by byte. */
function label(length: number, name: string, context: Uint8Array): Uint8Array {
  const full = utf8('tls13 ' + name);
  return concat(new Uint8Array([length >> 8, length & 0xff, full.length]), full, new Uint8Array([context.length]), context);
}

describe('KeyUpdate: application_traffic_secret_N+1 (§7.2)', () => {
  it('is HKDF-Expand-Label(secret, "traffic upd", "", Hash.length), for SHA-256 and SHA-384', async () => {
    const s0 = bytes(simple1Rtt.secrets, 'clientApplicationTraffic0');
    const s1 = await nextTrafficSecret(provider, 'SHA-256', s0);
    expect(toHex(label(32, 'traffic upd', new Uint8Array(0)))).toBe('002011746c733133207472616666696320757064' + '00');
    expect(toHex(s1)).toBe(toHex(expand(sha256, s0, label(32, 'traffic upd', new Uint8Array(0)), 32)));
    const s48 = seededRandom('sha384 secret')(48);
    expect(toHex(await nextTrafficSecret(provider, 'SHA-384', s48))).toBe(toHex(expand(sha384, s48, label(48, 'traffic upd', new Uint8Array(0)), 48)));
  });

  it('records protected under the updated secret do not open under the old one', async () => {
    const suite = cipherSuiteInfo(CipherSuite.TLS_AES_128_GCM_SHA256)!;
    const s0 = bytes(simple1Rtt.secrets, 'serverApplicationTraffic0');
    const ks = await KeySchedule.start(provider, 'SHA-256');
    const s1 = await ks.nextTrafficSecret(s0);
    const sealed = await (await RecordProtector.create(provider, suite, s1)).seal(ContentType.application_data, utf8('after update'));
    await expect((await RecordProtector.create(provider, suite, s0)).open(sealed.subarray(0, 5), sealed.subarray(5))).rejects.toThrow(/AEAD/);
    const opened = await (await RecordProtector.create(provider, suite, s1)).open(sealed.subarray(0, 5), sealed.subarray(5));
    expect(opened.content).toEqual(utf8('after update'));
  });
});

describe('TLS-Exporter (§7.5)', () => {
  const ems = bytes(simple1Rtt.secrets, 'exporterMaster');

  function independent(secret: Uint8Array, name: string, context: Uint8Array, length: number): string {
    const derived = expand(sha256, secret, label(32, name, sha256(new Uint8Array(0))), 32);
    return toHex(expand(sha256, derived, label(length, 'exporter', sha256(context)), length));
  }

  it('is HKDF-Expand-Label(Derive-Secret(Secret, label, ""), "exporter", Hash(context), length)', async () => {
    for (const [name, ctx, len] of [['EXPORTER-Channel-Binding', new Uint8Array(0), 32], ['EXPORTER-my-app', utf8('ctx'), 64], ['x', fromHex('00ff'), 1]] as const) {
      expect(toHex(await tlsExporter(provider, 'SHA-256', ems, name, ctx, len))).toBe(independent(ems, name, ctx, len));
    }
  });

  it('treats an absent context like an empty one', async () => {
    const ks = await KeySchedule.start(provider, 'SHA-256');
    expect(toHex(await ks.export(ems, 'EXPORTER-test', undefined, 32))).toBe(toHex(await ks.export(ems, 'EXPORTER-test', new Uint8Array(0), 32)));
  });

  it('refuses labels too long for HkdfLabel', async () => {
    await expect(tlsExporter(provider, 'SHA-256', ems, 'x'.repeat(250), undefined, 32)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('cipher suites (§B.4) and their traffic key sizes (§7.3)', () => {
  it('maps each TLS 1.3 suite to its hash and AEAD, and nothing else', () => {
    expect(cipherSuiteInfo(0x1301)).toMatchObject({ hash: 'SHA-256', hashLength: 32, aead: 'AES-128-GCM', keyLength: 16, ivLength: 12 });
    expect(cipherSuiteInfo(0x1302)).toMatchObject({ hash: 'SHA-384', hashLength: 48, aead: 'AES-256-GCM', keyLength: 32, ivLength: 12 });
    expect(cipherSuiteInfo(0x1303)).toMatchObject({ hash: 'SHA-256', hashLength: 32, aead: 'CHACHA20-POLY1305', keyLength: 32, ivLength: 12 });
    for (const other of [0x1304, 0x1305, 0xc02f, 0x0a0a, 0]) {
      expect(cipherSuiteInfo(other)).toBeUndefined();
      expect(isCipherSuite(other)).toBe(false);
    }
    expect(cipherSuiteName(0x1303)).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(cipherSuiteName(0x1305)).toBe('0x1305');
    expect(DEFAULT_CIPHER_SUITES).toEqual([0x1301, 0x1302, 0x1303]);
  });

  it('derives keys and IVs of the suite\'s sizes', async () => {
    for (const id of DEFAULT_CIPHER_SUITES) {
      const suite = cipherSuiteInfo(id)!;
      const { key, iv } = await deriveTrafficKeys(provider, suite, seededRandom(suite.name)(suite.hashLength));
      expect([key.length, iv.length]).toEqual([suite.keyLength, 12]);
    }
  });
});
