import { AlertDescription, BadRecordMacError, ConfigError, DecodeError, PqtlsError, RecordOverflowError } from '../errors.js';
import type { AeadKey, CryptoProvider } from '../pq/provider.js';
import type { CipherSuiteInfo } from './cipher-suites.js';
import {
  ContentType, isInnerContentType, LEGACY_RECORD_VERSION, MAX_CIPHERTEXT, MAX_INNER_PLAINTEXT, MAX_PLAINTEXT,
  RECORD_HEADER_LENGTH,
} from './content-type.js';
import { deriveTrafficKeys } from './key-schedule.js';
import { maxPaddingFor, noPadding, type PaddingPolicy } from './padding.js';

export { noPadding, padToBlockSize, padToMaximum, type PaddingPolicy } from './padding.js';

/** The last sequence number a key may use; the next record would wrap, which §5.3 forbids. */
export const MAX_SEQUENCE_NUMBER = 2n ** 64n - 1n;

/** A record after removing protection: the real content type and the content without padding. */
export interface OpenedRecord {
  readonly contentType: ContentType;
  readonly content: Uint8Array;
}

export interface RecordProtectorOptions {
  /** Padding for records sealed without an explicit padding length. Defaults to {@link noPadding}. */
  readonly padding?: PaddingPolicy;
  /**
   * Sequence number of the first record, 0 unless continuing a stream. Tests
   * use it to reach the 2^64 limit.
   */
  readonly sequenceNumber?: bigint;
}

const AEAD_TAG_LENGTH = 16;

/**
 * Record protection for one direction under one traffic secret (RFC 8446
 * §5.2–5.3): AEAD with the per-record nonce `write_iv XOR sequence number`
 * and the record header as additional data.
 *
 * Sealing takes the sequence number when it is called, so seals may overlap.
 * Opening consumes a sequence number only when authentication succeeds, which
 * lets a server that rejected 0-RTT skip early-data records that fail under
 * the handshake key (§4.2.10); opens must therefore not overlap.
 */
export class RecordProtector {
  private seq: bigint;
  private opening = false;

  private constructor(
    private readonly aead: AeadKey,
    private readonly iv: Uint8Array,
    readonly suite: CipherSuiteInfo,
    private readonly padding: PaddingPolicy,
    sequenceNumber: bigint,
  ) {
    this.seq = sequenceNumber;
  }

  /** Derives key and IV from a traffic secret (§7.3) and keys the AEAD. */
  static async create(
    provider: CryptoProvider, suite: CipherSuiteInfo, trafficSecret: Uint8Array, options: RecordProtectorOptions = {},
  ): Promise<RecordProtector> {
    const { key, iv } = await deriveTrafficKeys(provider, suite, trafficSecret);
    return RecordProtector.fromKeys(provider, suite, key, iv, options);
  }

  /** Keys the AEAD from an explicit key and IV. */
  static async fromKeys(
    provider: CryptoProvider, suite: CipherSuiteInfo, key: Uint8Array, iv: Uint8Array, options: RecordProtectorOptions = {},
  ): Promise<RecordProtector> {
    if (key.length !== suite.keyLength) throw new ConfigError(`${suite.name} key must be ${suite.keyLength} bytes`);
    if (iv.length !== suite.ivLength) throw new ConfigError(`${suite.name} IV must be ${suite.ivLength} bytes`);
    const seq = options.sequenceNumber ?? 0n;
    if (seq < 0n || seq > MAX_SEQUENCE_NUMBER) throw new ConfigError('sequence number out of range');
    const aead = await provider.aead(suite.aead, key);
    return new RecordProtector(aead, iv.slice(), suite, options.padding ?? noPadding, seq);
  }

  /** Sequence number of the next record. */
  get sequenceNumber(): bigint {
    return this.seq;
  }

  /**
   * Whether this key has protected enough records that a KeyUpdate is due
   * (§5.5: AES-GCM keys stay within 2^24.5 full-size records; we use 2^24).
   * ChaCha20-Poly1305's limit exceeds the sequence space.
   */
  get keyUpdateRecommended(): boolean {
    return this.suite.aead !== 'CHACHA20-POLY1305' && this.seq >= 2n ** 24n;
  }

  /** The per-record nonce: the sequence number, left-padded to iv_length, XOR write_iv (§5.3). */
  private nonce(seq: bigint): Uint8Array {
    const n = this.iv.slice();
    // Two 32-bit halves: one bigint split per record instead of eight.
    let lo = Number(seq & 0xffffffffn);
    let hi = Number(seq >> 32n);
    for (let i = n.length - 1; i >= n.length - 4; i--) {
      n[i] = (n[i] as number) ^ (lo & 0xff);
      lo = Math.floor(lo / 256);
    }
    for (let i = n.length - 5; i >= n.length - 8; i--) {
      n[i] = (n[i] as number) ^ (hi & 0xff);
      hi = Math.floor(hi / 256);
    }
    return n;
  }

  private take(): bigint {
    const seq = this.seq;
    if (seq > MAX_SEQUENCE_NUMBER) throw new ConfigError('record sequence number would wrap; the key must be updated (RFC 8446 §5.3)');
    this.seq = seq + 1n;
    return seq;
  }

  /**
   * Whether {@link sealSync} and {@link openSync} may be used: the AEAD
   * declared its operations synchronous (`sealInto` and `openSync`).
   */
  get isSync(): boolean {
    return this.aead.sealInto !== undefined && this.aead.openSync !== undefined;
  }

  /**
   * Protects one record: returns the full TLSCiphertext (header `17 03 03`,
   * length, encrypted_record). `content` must already fit one record (at most
   * 2^14 bytes; see `fragment` in record-layer), given whole or as pieces
   * (each copied once, into the record). Padding defaults to the configured
   * policy, capped to what fits; an explicit `paddingLength` that does not fit
   * is an error.
   */
  async seal(contentType: ContentType, content: Uint8Array | readonly Uint8Array[], paddingLength?: number): Promise<Uint8Array> {
    const r = this.frame(contentType, content, paddingLength);
    if (this.aead.sealInto) this.aead.sealInto(r.nonce, r.header, r.inner, r.out.subarray(RECORD_HEADER_LENGTH));
    else r.out.set(await this.aead.seal(r.nonce, r.header, r.inner), RECORD_HEADER_LENGTH);
    return r.out;
  }

  /**
   * {@link seal} without a promise, for an AEAD that is synchronous
   * ({@link isSync}); a ConfigError otherwise. With `into`, the record is
   * written at its start (it must have room: {@link recordLength}) and the
   * written part returned, so a caller can lay many records in one array.
   */
  sealSync(contentType: ContentType, content: Uint8Array | readonly Uint8Array[], paddingLength?: number, into?: Uint8Array): Uint8Array {
    if (!this.aead.sealInto) throw new ConfigError('this AEAD has no synchronous seal');
    const r = this.frame(contentType, content, paddingLength, into);
    this.aead.sealInto(r.nonce, r.header, r.inner, r.out.subarray(RECORD_HEADER_LENGTH));
    return r.out;
  }

  /**
   * The padding a record of `length` content bytes gets: `paddingLength` if
   * given and it fits, else the policy's, capped to what fits.
   */
  paddingFor(contentType: ContentType, length: number, paddingLength?: number): number {
    let pad: number;
    if (paddingLength === undefined) {
      pad = this.padding(contentType, length);
      if (!Number.isInteger(pad) || pad < 0) throw new ConfigError(`padding policy returned ${pad}`);
      return Math.min(pad, maxPaddingFor(length));
    }
    pad = paddingLength;
    if (!Number.isInteger(pad) || pad < 0 || pad > maxPaddingFor(length)) {
      throw new ConfigError(`padding of ${pad} bytes does not fit a record with ${length} bytes of content`);
    }
    return pad;
  }

  /** Bytes of the TLSCiphertext (header included) for `length` content bytes and `paddingLength` zeros. */
  static recordLength(length: number, paddingLength: number): number {
    return RECORD_HEADER_LENGTH + length + 1 + paddingLength + AEAD_TAG_LENGTH;
  }

  /** Lays out one record to seal and takes its sequence number. */
  private frame(contentType: ContentType, content: Uint8Array | readonly Uint8Array[], paddingLength: number | undefined, into?: Uint8Array) {
    if (!isInnerContentType(contentType)) throw new ConfigError(`content type ${contentType} cannot be protected`);
    const parts: readonly Uint8Array[] = content instanceof Uint8Array ? [content] : content;
    let length = 0;
    for (const p of parts) length += p.length;
    if (length > MAX_PLAINTEXT) {
      throw new ConfigError(`record content of ${length} bytes exceeds 2^14; fragment it first`);
    }
    if (length === 0 && contentType !== ContentType.application_data) {
      throw new ConfigError('handshake and alert records must not be empty (RFC 8446 §5.4)');
    }
    const pad = this.paddingFor(contentType, length, paddingLength);
    // The record is built in one array: header, then TLSInnerPlaintext (content ‖ type ‖ zeros),
    // sealed in place when the AEAD can, with room left for the tag.
    const innerLength = length + 1 + pad;
    const sealedLength = innerLength + AEAD_TAG_LENGTH;
    const total = RECORD_HEADER_LENGTH + sealedLength;
    if (into && into.length < total) throw new ConfigError(`record of ${total} bytes does not fit ${into.length}`);
    const out = into ? into.subarray(0, total) : new Uint8Array(total);
    out[0] = ContentType.application_data;
    out[1] = LEGACY_RECORD_VERSION >> 8;
    out[2] = LEGACY_RECORD_VERSION & 0xff;
    out[3] = sealedLength >> 8;
    out[4] = sealedLength & 0xff;
    let o = RECORD_HEADER_LENGTH;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    out[o] = contentType;
    // A fresh array is already zero; a caller's may not be.
    if (into) out.fill(0, o + 1, o + 1 + pad);
    return {
      out,
      header: out.subarray(0, RECORD_HEADER_LENGTH),
      inner: out.subarray(RECORD_HEADER_LENGTH, RECORD_HEADER_LENGTH + innerLength),
      nonce: this.nonce(this.take()),
    };
  }

  /**
   * Removes protection from one TLSCiphertext given its 5-byte header and its
   * encrypted_record. Raises RecordOverflowError (record_overflow) for a
   * record over 2^14 + 256 bytes or an inner plaintext over 2^14 + 1,
   * BadRecordMacError (bad_record_mac) when authentication fails, and
   * unexpected_message for a record with no content type, an inner type that
   * may not be protected, or an empty handshake or alert record.
   *
   * `header` and `payload` are only read: they may be views of the caller's
   * receive buffer. The returned content is a view of a fresh array.
   */
  async open(header: Uint8Array, payload: Uint8Array): Promise<OpenedRecord> {
    this.checkOpen(header, payload);
    this.opening = true;
    let inner: Uint8Array | null;
    try {
      inner = await this.aead.open(this.nonce(this.seq), header, payload);
    } finally {
      this.opening = false;
    }
    return this.opened(inner);
  }

  /** {@link open} without a promise, for an AEAD that is synchronous ({@link isSync}); a ConfigError otherwise. */
  openSync(header: Uint8Array, payload: Uint8Array): OpenedRecord {
    if (!this.aead.openSync) throw new ConfigError('this AEAD has no synchronous open');
    this.checkOpen(header, payload);
    return this.opened(this.aead.openSync(this.nonce(this.seq), header, payload));
  }

  private checkOpen(header: Uint8Array, payload: Uint8Array): void {
    if (header.length !== RECORD_HEADER_LENGTH) throw new DecodeError(`record header must be 5 bytes, got ${header.length}`);
    if (header[0] !== ContentType.application_data) {
      throw new PqtlsError(`protected record has outer type ${header[0] as number}, not application_data`, AlertDescription.unexpected_message);
    }
    const declared = ((header[3] as number) << 8) | (header[4] as number);
    if (declared > MAX_CIPHERTEXT || payload.length > MAX_CIPHERTEXT) {
      throw new RecordOverflowError(`protected record of ${Math.max(declared, payload.length)} bytes exceeds 2^14 + 256`);
    }
    if (declared !== payload.length) throw new DecodeError(`record header says ${declared} bytes, got ${payload.length}`);
    if (this.opening) throw new ConfigError('RecordProtector.open called while another open is in progress');
    if (this.seq > MAX_SEQUENCE_NUMBER) throw new ConfigError('record sequence number would wrap; the key must be updated (RFC 8446 §5.3)');
  }

  /** Consumes the sequence number of an authenticated record and strips its padding (§5.4). */
  private opened(inner: Uint8Array | null): OpenedRecord {
    if (inner === null) throw new BadRecordMacError();
    this.seq++;
    if (inner.length > MAX_INNER_PLAINTEXT) {
      throw new RecordOverflowError(`inner plaintext of ${inner.length} bytes exceeds 2^14 + 1`);
    }
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    if (end < 0) throw new PqtlsError('protected record has no content type (all zeros)', AlertDescription.unexpected_message);
    const type = inner[end] as number;
    if (!isInnerContentType(type)) {
      throw new PqtlsError(`protected record has inner content type ${type}`, AlertDescription.unexpected_message);
    }
    if (end === 0 && type !== ContentType.application_data) {
      throw new PqtlsError('empty handshake or alert record (RFC 8446 §5.4)', AlertDescription.unexpected_message);
    }
    return { contentType: type, content: inner.subarray(0, end) };
  }
}

