/**
 * Reading 1-RTT packets off the wire with the secrets of a key log (NSS
 * format, `CLIENT_TRAFFIC_SECRET_0` / `SERVER_TRAFFIC_SECRET_0`), as the
 * interop runner does with tshark: header protection removed (RFC 9001 §5.4),
 * the packet number recovered (RFC 9000 Appendix A.3) and the payload
 * authenticated (RFC 9001 §5.3), so a check can say which cipher suite the
 * connection used and whether either side moved to the next key phase
 * (RFC 9001 §6). Written on node:crypto alone, not on src/quic.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ShortRecord } from '../../helpers/udp-relay.js';

export type SuiteName = 'TLS_AES_128_GCM_SHA256' | 'TLS_AES_256_GCM_SHA384' | 'TLS_CHACHA20_POLY1305_SHA256';

interface Suite {
  readonly name: SuiteName;
  readonly hash: 'sha256' | 'sha384';
  readonly keyLength: number;
  readonly aead: 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
  readonly hp: 'aes-128-ecb' | 'aes-256-ecb' | 'chacha20';
}

const SUITES: readonly Suite[] = [
  { name: 'TLS_AES_128_GCM_SHA256', hash: 'sha256', keyLength: 16, aead: 'aes-128-gcm', hp: 'aes-128-ecb' },
  { name: 'TLS_AES_256_GCM_SHA384', hash: 'sha384', keyLength: 32, aead: 'aes-256-gcm', hp: 'aes-256-ecb' },
  { name: 'TLS_CHACHA20_POLY1305_SHA256', hash: 'sha256', keyLength: 32, aead: 'chacha20-poly1305', hp: 'chacha20' },
];

/** RFC 8446 §7.1 HKDF-Expand-Label with an empty context. */
function expandLabel(hash: Suite['hash'], secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([Buffer.from([length >> 8, length & 0xff, full.length]), full, Buffer.from([0])]);
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1; Buffer.concat(out).length < length; i++) {
    t = createHmac(hash, secret).update(Buffer.concat([t, info, Buffer.from([i])])).digest();
    out.push(t);
  }
  return Buffer.concat(out).subarray(0, length);
}

interface Keys {
  readonly key: Buffer;
  readonly iv: Buffer;
}

/** One direction's secret under one suite and QUIC version: header key and packet keys per key phase generation. */
class DirectionKeys {
  readonly hp: Buffer;
  private readonly generations: Keys[] = [];
  private readonly secrets: Buffer[];

  constructor(readonly suite: Suite, secret: Buffer, private readonly prefix: 'quic' | 'quicv2') {
    this.hp = expandLabel(suite.hash, secret, `${prefix} hp`, suite.keyLength);
    this.secrets = [secret];
  }

  /** Packet protection keys of key-phase generation `n` (0 = the handshake's, RFC 9001 §6.1 "quic ku" onwards). */
  generation(n: number): Keys {
    while (this.secrets.length <= n) {
      const last = this.secrets[this.secrets.length - 1] as Buffer;
      this.secrets.push(expandLabel(this.suite.hash, last, `${this.prefix} ku`, last.length));
    }
    let keys = this.generations[n];
    if (!keys) {
      const s = this.secrets[n] as Buffer;
      keys = { key: expandLabel(this.suite.hash, s, `${this.prefix} key`, this.suite.keyLength), iv: expandLabel(this.suite.hash, s, `${this.prefix} iv`, 12) };
      this.generations[n] = keys;
    }
    return keys;
  }

  mask(sample: Buffer): Buffer {
    if (this.suite.hp === 'chacha20') return createCipheriv('chacha20', this.hp, sample).update(Buffer.alloc(5));
    return createCipheriv(this.suite.hp, this.hp, null).update(sample).subarray(0, 5);
  }
}

/** RFC 9000 Appendix A.3. */
function decodePacketNumber(largest: number, truncated: number, bits: number): number {
  const expected = largest + 1;
  const win = 2 ** bits;
  const hwin = win / 2;
  let candidate = Math.floor(expected / win) * win + truncated;
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) candidate += win;
  else if (candidate > expected + hwin && candidate >= win) candidate -= win;
  return candidate;
}

export interface Opened {
  readonly suite: SuiteName;
  readonly keyPhase: 0 | 1;
  /** Key-phase generation whose keys authenticated the packet. */
  readonly generation: number;
  readonly packetNumber: number;
}

/** Tries to open one short-header packet with `keys`, DCID length `dcidLength`, at generations near `generation`. */
function open(data: Uint8Array, keys: DirectionKeys, dcidLength: number, largest: number, generation: number): Opened | undefined {
  const pnOffset = 1 + dcidLength;
  if (data.length < pnOffset + 4 + 16) return undefined;
  const sample = Buffer.from(data.subarray(pnOffset + 4, pnOffset + 20));
  const mask = keys.mask(sample);
  const first = (data[0] as number) ^ ((mask[0] as number) & 0x1f);
  // No test of the fixed bit: peers that advertised grease_quic_bit clear it (RFC 9287).
  const pnLength = (first & 3) + 1;
  let truncated = 0;
  const header = Buffer.from(data.subarray(0, pnOffset + pnLength));
  header[0] = first;
  for (let i = 0; i < pnLength; i++) {
    const b = (data[pnOffset + i] as number) ^ (mask[1 + i] as number);
    header[pnOffset + i] = b;
    truncated = truncated * 256 + b;
  }
  const pn = decodePacketNumber(largest, truncated, pnLength * 8);
  const keyPhase = ((first >> 2) & 1) as 0 | 1;
  // The phase bit says which generation: the current one if it matches its parity, else the next.
  const candidates = (generation % 2 === keyPhase ? [generation, generation + 2] : [generation + 1, generation - 1]).filter((g) => g >= 0);
  const body = Buffer.from(data.subarray(pnOffset + pnLength));
  if (body.length < 17) return undefined;
  for (const g of candidates) {
    const k = keys.generation(g);
    const nonce = Buffer.from(k.iv);
    for (let i = 0; i < 8; i++) nonce[11 - i] = (nonce[11 - i] as number) ^ (Math.floor(pn / 2 ** (8 * i)) & 0xff);
    try {
      const d = createDecipheriv(keys.suite.aead, k.key, nonce, { authTagLength: 16 } as never) as ReturnType<typeof createDecipheriv> & {
        setAuthTag(t: Buffer): void; setAAD(a: Buffer, o?: unknown): void;
      };
      d.setAAD(header, { plaintextLength: body.length - 16 });
      d.setAuthTag(body.subarray(body.length - 16));
      d.update(body.subarray(0, body.length - 16));
      d.final();
      return { suite: keys.suite.name, keyPhase, generation: g, packetNumber: pn };
    } catch {
      // not these keys
    }
  }
  return undefined;
}

/** The traffic secrets of a key log, per direction. */
export function readKeyLog(file: string): { client: Buffer[]; server: Buffer[] } {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // no key log written: nothing can be opened
  }
  const client: Buffer[] = [];
  const server: Buffer[] = [];
  for (const line of text.split('\n')) {
    const [label, , secret] = line.trim().split(/\s+/);
    if (!secret) continue;
    if (label === 'CLIENT_TRAFFIC_SECRET_0') client.push(Buffer.from(secret, 'hex'));
    if (label === 'SERVER_TRAFFIC_SECRET_0') server.push(Buffer.from(secret, 'hex'));
  }
  return { client, server };
}

/**
 * Opens what it can of one direction's 1-RTT datagrams. Connections are
 * found by trial: the first packet a secret opens (over every suite, QUIC
 * version and DCID length) fixes them for the datagrams of that relay mapping.
 */
export function openOneRtt(records: readonly ShortRecord[], secrets: readonly Buffer[]): Opened[] {
  const opened: Opened[] = [];
  const state = new Map<number, { keys: DirectionKeys; dcidLength: number; largest: number; generation: number }>();
  const candidates: DirectionKeys[] = [];
  for (const s of secrets) {
    for (const suite of SUITES) {
      if ((suite.hash === 'sha384') !== (s.length === 48)) continue;
      candidates.push(new DirectionKeys(suite, s, 'quic'), new DirectionKeys(suite, s, 'quicv2'));
    }
  }
  for (const r of records) {
    const known = state.get(r.mapping);
    if (known) {
      const o = open(r.data, known.keys, known.dcidLength, known.largest, known.generation);
      if (o) {
        opened.push(o);
        known.largest = Math.max(known.largest, o.packetNumber);
        known.generation = Math.max(known.generation, o.generation);
        continue;
      }
      // Perhaps a later connection from the same address (resumption): search again.
    }
    search: for (const keys of candidates) {
      for (let dcidLength = 0; dcidLength <= 20; dcidLength++) {
        for (const generation of [0, 1]) {
          const o = open(r.data, keys, dcidLength, -1, generation);
          if (o) {
            opened.push(o);
            state.set(r.mapping, { keys, dcidLength, largest: o.packetNumber, generation: o.generation });
            break search;
          }
        }
      }
    }
  }
  return opened;
}

/** Opens one short-header packet with a known secret, DCID length and largest packet number so far (for tests). */
export function openShortHeader(data: Uint8Array, secret: Buffer, dcidLength: number, largest: number): Opened | undefined {
  for (const suite of SUITES) {
    if ((suite.hash === 'sha384') !== (secret.length === 48)) continue;
    const o = open(data, new DirectionKeys(suite, secret, 'quic'), dcidLength, largest, 0);
    if (o) return o;
  }
  return undefined;
}

/** RFC 9001 §6.1: the next generation's secret, HKDF-Expand-Label(secret, "quic ku", "", Hash.length). */
export function keyUpdateSecret(secret: Buffer): Buffer {
  return expandLabel(secret.length === 48 ? 'sha384' : 'sha256', secret, 'quic ku', secret.length);
}
