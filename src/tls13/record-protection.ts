import { concat } from '../bytes.js';
import { AlertDescription, BadRecordMacError, ConfigError, DecodeError, PqtlsError, RecordOverflowError } from '../errors.js';
import type { AeadKey, CryptoProvider } from '../pq/provider.js';
import type { CipherSuiteInfo } from './cipher-suites.js';
import {
  ContentType, isInnerContentType, LEGACY_RECORD_VERSION, MAX_CIPHERTEXT, MAX_INNER_PLAINTEXT, MAX_PLAINTEXT,
  RECORD_HEADER_LENGTH,
} from './content-type.js';
import { hkdfLabel } from './hkdf-label.js';
import { deriveTrafficKeys } from './key-schedule.js';
import { maxPaddingFor, noPadding, type PaddingPolicy } from './padding.js';

export { noPadding, padToBlockSize, padToMaximum, type PaddingPolicy } from './padding.js';

/** The last sequence number a key may use; the next record would wrap, which §5.3 forbids. */
export const MAX_SEQUENCE_NUMBER = 2n ** 64n - 1n;

/** A record after removing protection: the real content type and the content without padding. */
export interface OpenedRecord {
  readonly contentType: ContentType;
  readonly content: Uint8Array;
  /**
   * The rest of the content, for application data opened in two parts
   * ({@link RecordProtector.openSplitSync}): the content is then
   * `content ‖ contentTail`.
   */
  readonly contentTail?: Uint8Array;
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
const EMPTY: Uint8Array = new Uint8Array(0);
/**
 * Bytes of each slab {@link RecordProtector.openSync} decrypts into: four full
 * records, at least one of any size. An application that keeps a small chunk
 * keeps its slab alive, so the slab stays small: a slab per four records costs
 * about what a slab per sixteen does, since zeroing, not the call, dominates.
 */
const OPEN_SLAB_BYTES = 64 * 1024;

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
  /**
   * The sequence number as two 32-bit halves: numbers, not a bigint, since
   * each record needs it split for its nonce. `hi` reaches 2^32 once the last
   * number (2^64 − 1) has been used.
   */
  private hi: number;
  private lo: number;
  private opening = false;
  /**
   * Where {@link openSync} decrypts with `openInto`: records take consecutive
   * slices and the slab is never written again once a slice is handed out, so
   * every record's content stays the caller's; a full slab is dropped for a
   * new one (the old lives on as long as any content still viewing it).
   */
  private slab: Uint8Array | undefined;
  private slabAt = 0;
  /** write_iv's last 8 bytes as two 32-bit halves, XORed with the sequence number's. */
  private readonly ivHi: number;
  private readonly ivLo: number;
  /**
   * The nonce of the record being sealed or opened synchronously, rewritten
   * per record: a synchronous AEAD reads it only during the call.
   */
  private readonly nonceBuf: Uint8Array;

  private constructor(
    private readonly aead: AeadKey,
    iv: Uint8Array,
    readonly suite: CipherSuiteInfo,
    private readonly padding: PaddingPolicy,
    sequenceNumber: bigint,
  ) {
    this.hi = Number(sequenceNumber >> 32n);
    this.lo = Number(sequenceNumber & 0xffffffffn);
    this.nonceBuf = iv.slice();
    const n = iv.length;
    this.ivHi = readU32(iv, n - 8);
    this.ivLo = readU32(iv, n - 4);
  }

  /** Derives key and IV from a traffic secret (§7.3) and keys the AEAD. */
  static async create(
    provider: CryptoProvider, suite: CipherSuiteInfo, trafficSecret: Uint8Array, options: RecordProtectorOptions = {},
  ): Promise<RecordProtector> {
    const { key, iv } = await deriveTrafficKeys(provider, suite, trafficSecret);
    return RecordProtector.fromKeys(provider, suite, key, iv, options);
  }

  /**
   * {@link create} on the calling thread, when the provider offers HKDF-Expand
   * and AEAD keying synchronously (their `sync`, see MaybeSync in
   * src/pq/provider.ts); undefined when it does not. Same derivation, same
   * checks: a handshake keys four protectors per side, and this spares each
   * the chain of promises of the asynchronous path.
   */
  static createSync(
    provider: CryptoProvider, suite: CipherSuiteInfo, trafficSecret: Uint8Array, options: RecordProtectorOptions = {},
  ): RecordProtector | undefined {
    const expand = provider.hkdfExpand.sync;
    const keyAead = provider.aead.sync;
    if (!expand || !keyAead) return undefined;
    const empty = new Uint8Array(0);
    // §7.3: write_key = HKDF-Expand-Label(Secret, "key", "", key_length); write_iv likewise with "iv".
    const key = expand(suite.hash, trafficSecret, hkdfLabel('key', empty, suite.keyLength), suite.keyLength);
    const iv = expand(suite.hash, trafficSecret, hkdfLabel('iv', empty, suite.ivLength), suite.ivLength);
    const seq = RecordProtector.checkKeys(suite, key, iv, options);
    return new RecordProtector(keyAead(suite.aead, key), iv, suite, options.padding ?? noPadding, seq);
  }

  /**
   * Frees the AEAD's native state now (see AeadKey.dispose) once this key is
   * replaced or its connection is done; sealing or opening afterwards throws.
   */
  dispose(): void {
    this.aead.dispose?.();
  }

  /** Keys the AEAD from an explicit key and IV. */
  static async fromKeys(
    provider: CryptoProvider, suite: CipherSuiteInfo, key: Uint8Array, iv: Uint8Array, options: RecordProtectorOptions = {},
  ): Promise<RecordProtector> {
    const seq = RecordProtector.checkKeys(suite, key, iv, options);
    const aead = await provider.aead(suite.aead, key);
    return new RecordProtector(aead, iv, suite, options.padding ?? noPadding, seq);
  }

  /** The key and IV sizes the suite needs, and the first sequence number, which it returns. */
  private static checkKeys(suite: CipherSuiteInfo, key: Uint8Array, iv: Uint8Array, options: RecordProtectorOptions): bigint {
    if (key.length !== suite.keyLength) throw new ConfigError(`${suite.name} key must be ${suite.keyLength} bytes`);
    if (iv.length !== suite.ivLength) throw new ConfigError(`${suite.name} IV must be ${suite.ivLength} bytes`);
    const seq = options.sequenceNumber ?? 0n;
    if (seq < 0n || seq > MAX_SEQUENCE_NUMBER) throw new ConfigError('sequence number out of range');
    return seq;
  }

  /** Sequence number of the next record. */
  get sequenceNumber(): bigint {
    return (BigInt(this.hi) << 32n) + BigInt(this.lo);
  }

  /**
   * Whether this key has protected enough records that a KeyUpdate is due
   * (§5.5: AES-GCM keys stay within 2^24.5 full-size records; we use 2^24).
   * ChaCha20-Poly1305's limit exceeds the sequence space.
   */
  get keyUpdateRecommended(): boolean {
    return this.suite.aead !== 'CHACHA20-POLY1305' && (this.hi > 0 || this.lo >= 2 ** 24);
  }

  /**
   * Writes the nonce of the current sequence number into {@link nonceBuf}: the
   * number, left-padded to iv_length, XOR write_iv (§5.3). Refuses once the
   * numbers are used up: the next record would wrap, which §5.3 forbids.
   */
  private nonce(): Uint8Array {
    if (this.hi > 0xffffffff) throw new ConfigError('record sequence number would wrap; the key must be updated (RFC 8446 §5.3)');
    const n = this.nonceBuf;
    writeU32(n, n.length - 8, this.ivHi ^ this.hi);
    writeU32(n, n.length - 4, this.ivLo ^ this.lo);
    return n;
  }

  /** Consumes the current sequence number. */
  private advance(): void {
    if (this.lo === 0xffffffff) {
      this.lo = 0;
      this.hi++;
    } else {
      this.lo++;
    }
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
    const out = this.frame(contentType, content, paddingLength);
    const sealed = out.subarray(RECORD_HEADER_LENGTH);
    const inner = sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH);
    const header = out.subarray(0, RECORD_HEADER_LENGTH);
    if (this.aead.sealInto) {
      this.aead.sealInto(this.nonce(), header, inner, sealed);
      this.advance();
    } else {
      // The number is taken now, so seals may overlap; the AEAD gets a nonce of its own to read when it likes.
      const nonce = this.nonce().slice();
      this.advance();
      out.set(await this.aead.seal(nonce, header, inner), RECORD_HEADER_LENGTH);
    }
    return out;
  }

  /**
   * {@link seal} without a promise, for an AEAD that is synchronous
   * ({@link isSync}); a ConfigError otherwise. With `into`, the record is
   * written at its start (it must have room: {@link recordLength}) and the
   * written part returned, so a caller can lay many records in one array.
   */
  sealSync(contentType: ContentType, content: Uint8Array | readonly Uint8Array[], paddingLength?: number, into?: Uint8Array): Uint8Array {
    if (!this.aead.sealInto) throw new ConfigError('this AEAD has no synchronous seal');
    if (into && this.aead.sealGather) return this.sealGathered(contentType, content, paddingLength, into);
    const out = this.frame(contentType, content, paddingLength, into);
    const sealed = out.subarray(RECORD_HEADER_LENGTH);
    this.aead.sealInto(this.nonce(), out.subarray(0, RECORD_HEADER_LENGTH), sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH), sealed);
    this.advance();
    return out;
  }

  /**
   * {@link sealSync} into `into` with an AEAD that gathers its input
   * (`sealGather`): the content is encrypted from where it lies, straight
   * into the record, instead of being copied there first and encrypted in
   * place: one pass over a bulk write's bytes, not two. Only the header and
   * the TLSInnerPlaintext's tail (type, zeros) are written beforehand.
   */
  private sealGathered(contentType: ContentType, content: Uint8Array | readonly Uint8Array[], paddingLength: number | undefined, into: Uint8Array): Uint8Array {
    const sealGather = this.aead.sealGather as NonNullable<AeadKey['sealGather']>;
    const { out, tailAt } = this.layout(contentType, content, paddingLength, into);
    // The tail is sealed in place; the content's parts, outside `out`, are read where they are.
    const tail = out.subarray(tailAt, out.length - AEAD_TAG_LENGTH);
    const parts = content instanceof Uint8Array ? [content, tail] : [...content, tail];
    sealGather.call(this.aead, this.nonce(), out.subarray(0, RECORD_HEADER_LENGTH), parts, out.subarray(RECORD_HEADER_LENGTH));
    this.advance();
    return out;
  }

  /**
   * Whether {@link sealPieces} may be used: the AEAD seals synchronously and
   * hands back its output in pieces (`sealParts`).
   */
  get sealsInPieces(): boolean {
    return this.aead.sealParts !== undefined;
  }

  /**
   * {@link sealSync} for an AEAD that returns its output in pieces
   * ({@link sealsInPieces}): appends the record to `out` as its 5-byte header
   * followed by the AEAD's pieces (their concatenation is the TLSCiphertext)
   * and returns its length. No byte of `content` is copied: the AEAD reads it
   * where it lies, and its output is not joined.
   */
  sealPieces(contentType: ContentType, content: Uint8Array | readonly Uint8Array[], paddingLength: number | undefined, out: Uint8Array[]): number {
    const sealParts = this.aead.sealParts;
    if (!sealParts) throw new ConfigError('this AEAD has no synchronous seal in pieces');
    const length = contentLength(contentType, content);
    const pad = this.paddingFor(contentType, length, paddingLength);
    const sealedLength = length + 1 + pad + AEAD_TAG_LENGTH;
    const header = new Uint8Array(RECORD_HEADER_LENGTH);
    writeHeader(header, sealedLength);
    // TLSInnerPlaintext's tail: the real content type, then the zeros.
    const tail = new Uint8Array(1 + pad);
    tail[0] = contentType;
    const plaintext = content instanceof Uint8Array ? [content, tail] : [...content, tail];
    const pieces = sealParts(this.nonce(), header, plaintext);
    this.advance();
    let n = 0;
    out.push(header);
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i] as Uint8Array;
      out.push(p);
      n += p.length;
    }
    if (n !== sealedLength) throw new PqtlsError(`AEAD returned ${n} bytes for a ${sealedLength}-byte record`, AlertDescription.internal_error);
    return RECORD_HEADER_LENGTH + sealedLength;
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

  /**
   * Lays out one record to seal in one array: header, then TLSInnerPlaintext
   * (content ‖ type ‖ zeros), then room for the tag, so the AEAD can seal in place.
   */
  private frame(contentType: ContentType, content: Uint8Array | readonly Uint8Array[], paddingLength: number | undefined, into?: Uint8Array): Uint8Array {
    const { out } = this.layout(contentType, content, paddingLength, into);
    if (content instanceof Uint8Array) {
      out.set(content, RECORD_HEADER_LENGTH);
      return out;
    }
    let o = RECORD_HEADER_LENGTH;
    for (const p of content) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /**
   * The record's array (`into`'s start, or a new one) with its header and the
   * TLSInnerPlaintext's tail (content type, zero padding) written; the content
   * goes at RECORD_HEADER_LENGTH, the tail at `tailAt`, the tag after it.
   */
  private layout(contentType: ContentType, content: Uint8Array | readonly Uint8Array[], paddingLength: number | undefined, into?: Uint8Array): { out: Uint8Array; tailAt: number } {
    const length = contentLength(contentType, content);
    const pad = this.paddingFor(contentType, length, paddingLength);
    const sealedLength = length + 1 + pad + AEAD_TAG_LENGTH;
    const total = RECORD_HEADER_LENGTH + sealedLength;
    if (into && into.length < total) throw new ConfigError(`record of ${total} bytes does not fit ${into.length}`);
    const out = into ? into.subarray(0, total) : new Uint8Array(total);
    writeHeader(out, sealedLength);
    const tailAt = RECORD_HEADER_LENGTH + length;
    out[tailAt] = contentType;
    // A fresh array is already zero; a caller's may not be.
    if (into) out.fill(0, tailAt + 1, tailAt + 1 + pad);
    return { out, tailAt };
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
    this.checkOpen(header, payload.length);
    const nonce = this.nonce().slice();
    this.opening = true;
    let inner: Uint8Array | null;
    try {
      inner = await this.aead.open(nonce, header, payload);
    } finally {
      this.opening = false;
    }
    return this.opened(inner);
  }

  /**
   * {@link open} without a promise, for an AEAD that is synchronous
   * ({@link isSync}); a ConfigError otherwise. With `inPlace`, the caller
   * gives up `payload`: an AEAD with `openInto` decrypts it over itself and
   * the content views `payload` (no slab slice, so no zeroed allocation per
   * few records); when the tag fails, `payload` is left zeroed.
   */
  openSync(header: Uint8Array, payload: Uint8Array, inPlace = false): OpenedRecord {
    if (!this.aead.openSync) throw new ConfigError('this AEAD has no synchronous open');
    this.checkOpen(header, payload.length);
    const openInto = this.aead.openInto;
    if (openInto === undefined || payload.length < AEAD_TAG_LENGTH) return this.opened(this.aead.openSync(this.nonce(), header, payload));
    const n = payload.length - AEAD_TAG_LENGTH;
    if (inPlace) {
      const inner = payload.subarray(0, n);
      if (!openInto.call(this.aead, this.nonce(), header, payload, inner)) return this.opened(null);
      const record = this.opened(inner);
      return record.contentType === ContentType.application_data ? record : { contentType: record.contentType, content: record.content.slice() };
    }
    let slab = this.slab;
    // A protector's first record gets an array of its own size, not a slab: the handshake's protectors open
    // a record or two, and with a 64 KiB slab each a client reading through a reused buffer (src/node/socket-reader.ts)
    // collected garbage every few hundred handshakes.
    const own = slab === undefined;
    if (slab === undefined || slab.length - this.slabAt < n) {
      // checkOpen capped n at 2^14 + 256 - 16, so a record always fits a new slab.
      slab = this.slab = new Uint8Array(own ? n : OPEN_SLAB_BYTES);
      this.slabAt = 0;
    }
    const inner = slab.subarray(this.slabAt, this.slabAt + n);
    if (!openInto.call(this.aead, this.nonce(), header, payload, inner)) {
      // Nothing was handed out: the next record may take the same (zeroed) slice.
      return this.opened(null);
    }
    this.slabAt += n;
    const record = this.opened(inner);
    // Handshake messages and alerts are rare and may be kept for long (a session ticket's parts view their
    // message): they get arrays of their own rather than hold a slab alive (a record's own array is one).
    return own || record.contentType === ContentType.application_data ? record : { contentType: record.contentType, content: record.content.slice() };
  }

  /**
   * {@link openSync} in place, for a record whose encrypted_record is
   * `head ‖ tail`, cut across two reads the caller gave up: an AEAD with
   * `openGather` decrypts each part over itself, so a record cut by a read
   * costs no copy and no slab either. Application data comes back in two
   * parts (`content` and `contentTail`); any other content type as one array
   * of its own. Without `openGather` the parts are joined into an array of
   * their own first.
   */
  openSplitSync(header: Uint8Array, head: Uint8Array, tail: Uint8Array): OpenedRecord {
    const total = head.length + tail.length;
    const gather = this.aead.openGather;
    if (gather === undefined || total < AEAD_TAG_LENGTH) return this.openSync(header, concat(head, tail), true);
    if (!this.aead.openSync) throw new ConfigError('this AEAD has no synchronous open');
    this.checkOpen(header, total);
    if (!gather.call(this.aead, this.nonce(), header, [head, tail])) return this.opened(null);
    const n = total - AEAD_TAG_LENGTH;
    const h = Math.min(head.length, n);
    return this.openedParts(head.subarray(0, h), tail.subarray(0, n - h));
  }

  private checkOpen(header: Uint8Array, payloadLength: number): void {
    if (header.length !== RECORD_HEADER_LENGTH) throw new DecodeError(`record header must be 5 bytes, got ${header.length}`);
    if (header[0] !== ContentType.application_data) {
      throw new PqtlsError(`protected record has outer type ${header[0] as number}, not application_data`, AlertDescription.unexpected_message);
    }
    const declared = ((header[3] as number) << 8) | (header[4] as number);
    if (declared > MAX_CIPHERTEXT || payloadLength > MAX_CIPHERTEXT) {
      throw new RecordOverflowError(`protected record of ${Math.max(declared, payloadLength)} bytes exceeds 2^14 + 256`);
    }
    if (declared !== payloadLength) throw new DecodeError(`record header says ${declared} bytes, got ${payloadLength}`);
    if (this.opening) throw new ConfigError('RecordProtector.open called while another open is in progress');
  }

  /** Consumes the sequence number of an authenticated record and strips its padding (§5.4). */
  private opened(inner: Uint8Array | null): OpenedRecord {
    if (inner === null) throw new BadRecordMacError();
    return this.openedParts(inner, EMPTY);
  }

  /**
   * {@link opened} for an inner plaintext `head ‖ tail`: the content type is
   * its last non-zero byte, in `tail` or else in `head`.
   */
  private openedParts(head: Uint8Array, tail: Uint8Array): OpenedRecord {
    this.advance();
    if (head.length + tail.length > MAX_INNER_PLAINTEXT) {
      throw new RecordOverflowError(`inner plaintext of ${head.length + tail.length} bytes exceeds 2^14 + 1`);
    }
    let end = tail.length - 1;
    while (end >= 0 && tail[end] === 0) end--;
    let type: number;
    let content = head;
    let contentTail = EMPTY;
    if (end >= 0) {
      type = tail[end] as number;
      contentTail = tail.subarray(0, end);
    } else {
      end = head.length - 1;
      while (end >= 0 && head[end] === 0) end--;
      if (end < 0) throw new PqtlsError('protected record has no content type (all zeros)', AlertDescription.unexpected_message);
      type = head[end] as number;
      content = head.subarray(0, end);
    }
    if (!isInnerContentType(type)) {
      throw new PqtlsError(`protected record has inner content type ${type}`, AlertDescription.unexpected_message);
    }
    if (content.length + contentTail.length === 0 && type !== ContentType.application_data) {
      throw new PqtlsError('empty handshake or alert record (RFC 8446 §5.4)', AlertDescription.unexpected_message);
    }
    if (contentTail.length === 0) return { contentType: type, content };
    // Handshake messages and alerts are parsed as one array.
    if (type !== ContentType.application_data) return { contentType: type, content: concat(content, contentTail) };
    return { contentType: type, content, contentTail };
  }
}


/** Checks one record's content against §5.1 and §5.4 and returns its length. */
function contentLength(contentType: ContentType, content: Uint8Array | readonly Uint8Array[]): number {
  if (!isInnerContentType(contentType)) throw new ConfigError(`content type ${contentType} cannot be protected`);
  let length = 0;
  if (content instanceof Uint8Array) length = content.length;
  else for (const p of content) length += p.length;
  if (length > MAX_PLAINTEXT) {
    throw new ConfigError(`record content of ${length} bytes exceeds 2^14; fragment it first`);
  }
  if (length === 0 && contentType !== ContentType.application_data) {
    throw new ConfigError('handshake and alert records must not be empty (RFC 8446 §5.4)');
  }
  return length;
}

/** A TLSCiphertext header (outer type application_data, legacy version 0x0303) for `sealedLength` bytes. */
function writeHeader(out: Uint8Array, sealedLength: number): void {
  out[0] = ContentType.application_data;
  out[1] = LEGACY_RECORD_VERSION >> 8;
  out[2] = LEGACY_RECORD_VERSION & 0xff;
  out[3] = sealedLength >> 8;
  out[4] = sealedLength & 0xff;
}

function readU32(b: Uint8Array, o: number): number {
  return (((b[o] as number) << 24) | ((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number)) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
