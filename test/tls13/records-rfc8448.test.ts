/**
 * RFC 8446 §5.2–5.3 record protection against the records RFC 8448 puts on
 * the wire: every protected record of §3 (server handshake flight, client
 * Finished, NewSessionTicket, application data both ways, both close_notify
 * alerts) and of §4 (0-RTT data and EndOfEarlyData too) is opened to its
 * listed payload and sealed back to the same bytes, in sequence-number order.
 * The wire streams are also re-framed by the record layer (§5.1).
 */
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex } from '../../src/bytes.js';
import { createNodeCryptoProvider } from '../../src/node/index.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { seededRandom } from '../../src/testing/index.js';
import { cipherSuiteInfo, CipherSuite } from '../../src/tls13/cipher-suites.js';
import type { ContentType } from '../../src/tls13/content-type.js';
import { encodeRecords, RecordReader } from '../../src/tls13/record-layer.js';
import { RecordProtector } from '../../src/tls13/record-protection.js';
import { bytes, helloRetry, resumed0Rtt, SECRET_OF_KEYS, simple1Rtt, type Rfc8448Record, type Rfc8448Trace } from '../helpers/rfc8448.js';

const noble = createNobleProvider({ random: seededRandom('rfc8448 records') });
const suite = cipherSuiteInfo(CipherSuite.TLS_AES_128_GCM_SHA256)!;

function protectedRecords(t: Rfc8448Trace): [string, Rfc8448Record][] {
  return Object.entries(t.records).filter(([, r]) => r.protected);
}

/** One opener and one sealer per set of traffic keys, as each direction of a connection holds. */
async function protectors(t: Rfc8448Trace, fromSecret: boolean, provider: CryptoProvider = noble): Promise<Map<string, { opener: RecordProtector; sealer: RecordProtector }>> {
  const out = new Map<string, { opener: RecordProtector; sealer: RecordProtector }>();
  for (const name of Object.keys(t.trafficKeys)) {
    const make = (): Promise<RecordProtector> => fromSecret
      ? RecordProtector.create(provider, suite, bytes(t.secrets, SECRET_OF_KEYS[name]!))
      : RecordProtector.fromKeys(provider, suite, fromHex(t.trafficKeys[name]!.key), fromHex(t.trafficKeys[name]!.iv));
    out.set(name, { opener: await make(), sealer: await make() });
  }
  return out;
}

/** With `sync`, records are opened by `openSync` (with the OpenSSL provider: `openInto`, into a slab) and sealed by `sealSync`. */
async function replay(t: Rfc8448Trace, fromSecret: boolean, provider: CryptoProvider = noble, sync = false): Promise<number> {
  const ps = await protectors(t, fromSecret, provider);
  let n = 0;
  for (const [name, r] of protectedRecords(t)) {
    const { opener, sealer } = ps.get(r.keys!)!;
    const wire = fromHex(r.record);
    expect({ name, seq: opener.sequenceNumber }).toEqual({ name, seq: BigInt(r.sequenceNumber!) });
    const opened = sync ? opener.openSync(wire.subarray(0, 5), wire.subarray(5)) : await opener.open(wire.subarray(0, 5), wire.subarray(5));
    expect({ name, type: opened.contentType, content: toHex(opened.content) }).toEqual({ name, type: r.innerContentType, content: r.payload });
    const sealed = sync ? sealer.sealSync(r.innerContentType as ContentType, fromHex(r.payload)) : await sealer.seal(r.innerContentType as ContentType, fromHex(r.payload));
    expect({ name, record: toHex(sealed) }).toEqual({ name, record: r.record });
    n++;
  }
  return n;
}

describe('RFC 8448 §3 records', () => {
  it('lists the six kinds of protected record', () => {
    expect(protectedRecords(simple1Rtt).map(([n]) => n)).toEqual([
      'serverHandshakeFlight', 'clientFinished', 'newSessionTicket', 'clientApplicationData', 'serverApplicationData',
      'clientAlert', 'serverAlert',
    ]);
  });

  it('opens every protected record and seals it back to the same bytes (keys from the listed key/IV)', async () => {
    expect(await replay(simple1Rtt, false)).toBe(7);
  });

  it('the same with keys derived from the traffic secrets', async () => {
    expect(await replay(simple1Rtt, true)).toBe(7);
  });
});

describe('RFC 8448 §4 records', () => {
  it('opens and re-seals 0-RTT data, EndOfEarlyData and the rest', async () => {
    expect(protectedRecords(resumed0Rtt).map(([n]) => n)).toContain('clientEarlyData');
    expect(await replay(resumed0Rtt, true)).toBe(8);
  });
});

describe('RFC 8448 §5 records (after a HelloRetryRequest)', () => {
  it('opens and re-seals the server flight, client Finished and both alerts', async () => {
    expect(await replay(helloRetry, true)).toBe(4);
  });
});

describe('RFC 8448 record framing (§5.1)', () => {
  for (const t of [simple1Rtt, resumed0Rtt, helloRetry]) {
    for (const side of ['client', 'server'] as const) {
      it(`§${t.section} ${side} byte stream splits back into its records, whatever the read sizes`, () => {
        const records = Object.values(t.records).filter((r) => r.from === side);
        const stream = concat(...records.map((r) => fromHex(r.record)));
        const rand = seededRandom(`framing ${t.section} ${side}`);
        const reader = new RecordReader();
        const got: string[] = [];
        for (let o = 0; o < stream.length;) {
          const n = 1 + ((rand(1)[0] as number) % 97);
          reader.push(stream.subarray(o, o + n));
          o += n;
          for (const rec of reader.records()) got.push(toHex(concat(rec.header, rec.fragment)));
        }
        expect(got).toEqual(records.map((r) => r.record));
        expect(reader.hasPartialRecord).toBe(false);
      });
    }
  }

  it('the plaintext hellos re-encode to the records on the wire, legacy_record_version included', () => {
    const ch = simple1Rtt.records.clientHello!;
    expect(toHex(encodeRecords(22, bytes(simple1Rtt.messages, 'clientHello'), { legacyVersion: 0x0301 })[0]!)).toBe(ch.record);
    const sh = simple1Rtt.records.serverHello!;
    expect(toHex(encodeRecords(22, bytes(simple1Rtt.messages, 'serverHello'))[0]!)).toBe(sh.record);
  });
});

describe('RFC 8448 records through the synchronous path of the OpenSSL provider (openInto into a slab)', () => {
  const ffi = createNodeCryptoProvider({ random: seededRandom('rfc8448 records ffi') });

  it('opens and re-seals every protected record of §3, §4 and §5', async () => {
    expect((await ffi.aead('AES-128-GCM', new Uint8Array(16))).openInto).toBeTypeOf('function');
    expect(await replay(simple1Rtt, false, ffi, true)).toBe(7);
    expect(await replay(resumed0Rtt, true, ffi, true)).toBe(8);
    expect(await replay(helloRetry, true, ffi, true)).toBe(4);
  });
});
