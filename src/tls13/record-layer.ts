import { concat } from '../bytes.js';
import { AlertDescription, ConfigError, PqtlsError, RecordOverflowError, SizeOverflowError } from '../errors.js';
import {
  ContentType, isRecordContentType, type RecordContentType, LEGACY_RECORD_VERSION, MAX_CIPHERTEXT, MAX_PLAINTEXT, RECORD_HEADER_LENGTH,
} from './content-type.js';

/**
 * The TLS record layer's framing (RFC 8446 §5.1), sans-IO and unaware of the
 * handshake: {@link RecordReader} turns a byte stream into whole records,
 * {@link encodeRecords} and {@link fragment} cut outgoing data into records.
 * Protection is {@link RecordProtector}'s job; a protected record is framed
 * here like any other (outer type application_data).
 */

/** One record as framed on the wire. */
export interface TlsRecord {
  /** The (outer) content type. */
  readonly type: RecordContentType;
  /** legacy_record_version, reported but not checked (§5.1 says to ignore it). */
  readonly legacyVersion: number;
  /** The 5-byte header, which is the additional data of a protected record. */
  readonly header: Uint8Array;
  /** TLSPlaintext.fragment or TLSCiphertext.encrypted_record. */
  readonly fragment: Uint8Array;
}

/**
 * A record as {@link RecordReader.nextView} returns it. Its fragment goes on
 * in `fragmentTail` when the record was cut across two reads the caller gave
 * up (see {@link RecordReader.feed}) and both parts were left where they lie:
 * the fragment is then `fragment ‖ fragmentTail`.
 */
export interface RecordView extends TlsRecord {
  readonly fragmentTail?: Uint8Array;
}

export interface RecordReaderOptions {
  /**
   * Most bytes the reader holds at once. A caller that drains records after
   * each `push` needs at most one partial record plus one read; pushing past
   * the limit raises SizeOverflowError (push at most {@link RecordReader.room}
   * bytes to stay within it). At least one full protected record. Default 256 KiB.
   */
  readonly maxBufferedBytes?: number;
}

const DEFAULT_MAX_BUFFERED = 256 * 1024;

/** Largest record a peer may send with this outer type: 2^14 for plaintext types, 2^14 + 256 for protected records. */
export function maxRecordLength(type: number): number {
  return type === ContentType.application_data ? MAX_CIPHERTEXT : MAX_PLAINTEXT;
}

/**
 * Accumulates received bytes and yields complete records. A header is checked
 * as soon as its 5 bytes are in, before the body arrives: an unknown content
 * type raises unexpected_message; a length over the limit for its type
 * (§5.1, §5.2) raises RecordOverflowError; an empty handshake or alert record
 * raises unexpected_message (§5.1: they are never empty). After an error the
 * stream cannot be resynchronised, so every later call raises it again.
 */
export class RecordReader {
  private buf: Uint8Array;
  private start = 0;
  private end = 0;
  private readonly max: number;
  private failure: PqtlsError | null = null;
  /** Bytes handed over by {@link feed}, read in place until {@link release}; `at` is the next unread byte. */
  private view: Uint8Array | undefined;
  private at = 0;
  /** Whether the caller gave {@link view} up for good. */
  private viewGivenUp = false;
  /**
   * The beginning of a record, at the end of bytes the caller gave up, kept
   * where it lies instead of copied: with the next bytes given up, the record
   * is returned in two parts. Set only while `buf` holds nothing.
   */
  private held: Uint8Array | undefined;
  /** Whether the record {@link nextView} last returned lies in the fed bytes (not in the reader's own buffer). */
  lastInFed = false;

  constructor(options: RecordReaderOptions = {}) {
    this.max = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    if (!Number.isInteger(this.max) || this.max < RECORD_HEADER_LENGTH + MAX_CIPHERTEXT) {
      throw new ConfigError(`maxBufferedBytes must hold at least one full record (${RECORD_HEADER_LENGTH + MAX_CIPHERTEXT} bytes)`);
    }
    // Allocated on the first push, sized to what arrives: a connection that sends nothing costs nothing.
    this.buf = new Uint8Array(0);
  }

  /** Bytes the reader has allocated to hold partial records. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Bytes received but not yet returned as records. */
  get bufferedBytes(): number {
    return this.end - this.start + (this.held ? this.held.length : 0) + (this.view ? this.view.length - this.at : 0);
  }

  /**
   * Bytes that may be pushed now. After draining every complete record it is at
   * least 1, since what stays buffered is less than one record: a caller that
   * pushes at most this much always makes progress.
   */
  get room(): number {
    return this.max - this.bufferedBytes;
  }

  /** True when the stream ends mid-record, so a close now would be a truncation. */
  get hasPartialRecord(): boolean {
    return this.bufferedBytes > 0;
  }

  /** Appends received bytes (copied). */
  push(data: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.view) throw new ConfigError('RecordReader.push while fed bytes are not released');
    this.unhold();
    this.append(data);
  }

  /**
   * Hands over received bytes without copying them: {@link nextView} returns
   * the records that lie wholly inside `data` as views of it, and completes a
   * record begun by earlier bytes by copying only its missing part.
   * {@link release} ends the loan, copying what is left unread (less than a
   * record, once every complete record was taken), so `data` must stay as it
   * is until then. The same limit as {@link push} applies: at most
   * {@link room} bytes.
   *
   * With `givenUp`, the caller gives `data` up for good (a transport that
   * never reuses its read buffers): a record begun at its end is not copied
   * at {@link release} but kept where it lies, and when the next bytes,
   * given up too, complete it, {@link nextView} returns it in two parts
   * (`fragment` and `fragmentTail`) that the caller may then write over
   * (decrypt in place). Without it, and for a record cut across more than two
   * reads, what is held is copied.
   */
  feed(data: Uint8Array, givenUp = false): void {
    if (this.failure) throw this.failure;
    if (this.view) throw new ConfigError('RecordReader.feed while fed bytes are not released');
    const held = this.bufferedBytes;
    if (held + data.length > this.max) {
      throw new SizeOverflowError(`record reader would buffer ${held + data.length} bytes (limit ${this.max}); drain records before pushing more`);
    }
    if (!givenUp) this.unhold();
    this.view = data;
    this.viewGivenUp = givenUp;
    this.at = 0;
  }

  /**
   * Ends a {@link feed}: the bytes not yet returned as records are copied
   * (or, given up, kept where they lie), and `data` is the caller's again.
   */
  release(): void {
    const v = this.view;
    if (!v) return;
    this.view = undefined;
    if (this.at >= v.length) return;
    const rest = v.subarray(this.at);
    if (this.viewGivenUp && this.held === undefined && this.end === this.start) this.held = rest;
    else {
      this.unhold();
      this.append(rest);
    }
  }

  /** Copies what {@link held} views into the reader's own buffer. */
  private unhold(): void {
    const h = this.held;
    if (h === undefined) return;
    this.held = undefined;
    this.append(h);
  }

  private append(data: Uint8Array): void {
    const held = this.end - this.start;
    if (held + data.length > this.max) {
      throw new SizeOverflowError(`record reader would buffer ${held + data.length} bytes (limit ${this.max}); drain records before pushing more`);
    }
    if (this.end + data.length > this.buf.length) {
      const need = held + data.length;
      if (need > this.buf.length) {
        const grown = new Uint8Array(Math.min(this.max, Math.max(need, 2 * this.buf.length)));
        grown.set(this.buf.subarray(this.start, this.end));
        this.buf = grown;
      } else {
        this.buf.copyWithin(0, this.start, this.end);
      }
      this.start = 0;
      this.end = held;
    }
    this.buf.set(data, this.end);
    this.end += data.length;
  }

  /** The next complete record (its own copy), or undefined until more bytes arrive. */
  next(): TlsRecord | undefined {
    const r = this.nextView();
    if (!r) return undefined;
    const { fragmentTail, ...rest } = r;
    return { ...rest, header: r.header.slice(), fragment: fragmentTail ? concat(r.fragment, fragmentTail) : r.fragment.slice() };
  }

  /**
   * {@link next} without copying: header and fragment are views of the
   * reader's buffer, valid until the next {@link push} (the only call that
   * moves or overwrites bytes). For a caller that consumes each record before
   * pushing more, as TlsConnection does. A record may come in two parts
   * (see {@link feed}).
   */
  nextView(): RecordView | undefined {
    if (this.failure) throw this.failure;
    const v = this.view;
    if (v && this.held) {
      const r = this.split(v);
      if (r) return r;
    }
    if (v && this.end === this.start) {
      // Nothing held: a record wholly inside the fed bytes is returned where it lies.
      const p = this.at;
      const length = this.headerAt(v, p, v.length - p);
      if (length < 0) return undefined;
      this.at = p + RECORD_HEADER_LENGTH + length;
      this.lastInFed = true;
      return record(v, p, length);
    }
    if (v) this.complete(v);
    const p = this.start;
    const length = this.headerAt(this.buf, p, this.end - p);
    if (length < 0) return undefined;
    this.lastInFed = false;
    this.start += RECORD_HEADER_LENGTH + length;
    if (this.start === this.end) this.start = this.end = 0;
    return record(this.buf, p, length);
  }

  /**
   * The record begun in {@link held} and completed by `v`, both given up, in
   * two parts where they lie; undefined when `v` does not complete it. Its
   * header, if cut, is copied. Otherwise what is held is copied into the
   * reader's buffer (undefined), as for any record cut across three reads.
   */
  private split(v: Uint8Array): RecordView | undefined {
    const h = this.held as Uint8Array;
    const avail = v.length - this.at;
    let header: Uint8Array;
    if (h.length >= RECORD_HEADER_LENGTH) header = h.subarray(0, RECORD_HEADER_LENGTH);
    else if (h.length + avail >= RECORD_HEADER_LENGTH) header = concat(h, v.subarray(this.at, this.at + RECORD_HEADER_LENGTH - h.length));
    else {
      this.unhold();
      return undefined;
    }
    const length = this.headerAt(header, 0, Infinity);
    const fromView = RECORD_HEADER_LENGTH + length - h.length;
    // Whole in what is held (left unread by a caller that stopped early), or not completed by `v` either.
    if (fromView <= 0 || fromView > avail) {
      this.unhold();
      return undefined;
    }
    this.held = undefined;
    const tailAt = this.at + Math.max(0, RECORD_HEADER_LENGTH - h.length);
    const tail = v.subarray(tailAt, this.at + fromView);
    this.at += fromView;
    this.lastInFed = true;
    const base = { type: header[0] as TlsRecord['type'], legacyVersion: ((header[1] as number) << 8) | (header[2] as number), header };
    // A record whose header alone was cut lies whole in `v`.
    if (h.length <= RECORD_HEADER_LENGTH) return { ...base, fragment: tail };
    return { ...base, fragment: h.subarray(RECORD_HEADER_LENGTH), fragmentTail: tail };
  }

  /**
   * The fragment length of the record at `p` if all of it is among the
   * `held` bytes there, -1 if not yet; its header is checked as soon as it is in.
   */
  private headerAt(b: Uint8Array, p: number, held: number): number {
    if (held < RECORD_HEADER_LENGTH) return -1;
    const type = b[p] as number;
    const length = ((b[p + 3] as number) << 8) | (b[p + 4] as number);
    this.failure = checkHeader(type, length);
    if (this.failure) throw this.failure;
    return held < RECORD_HEADER_LENGTH + length ? -1 : length;
  }

  /**
   * Copies from the fed bytes what the held partial record lacks, no more:
   * its header first (checked once in), then the rest of its fragment.
   */
  private complete(v: Uint8Array): void {
    let held = this.end - this.start;
    if (held < RECORD_HEADER_LENGTH) {
      const take = Math.min(RECORD_HEADER_LENGTH - held, v.length - this.at);
      this.append(v.subarray(this.at, this.at + take));
      this.at += take;
      held += take;
      if (held < RECORD_HEADER_LENGTH) return;
    }
    const length = this.headerAt(this.buf, this.start, Infinity);
    const take = Math.min(RECORD_HEADER_LENGTH + length - held, v.length - this.at);
    if (take <= 0) return;
    this.append(v.subarray(this.at, this.at + take));
    this.at += take;
  }

  /** Every complete record now buffered. */
  *records(): Generator<TlsRecord, void, undefined> {
    for (let r = this.next(); r; r = this.next()) yield r;
  }
}

function record(b: Uint8Array, p: number, length: number): TlsRecord {
  return {
    type: b[p] as TlsRecord['type'],
    legacyVersion: ((b[p + 1] as number) << 8) | (b[p + 2] as number),
    header: b.subarray(p, p + RECORD_HEADER_LENGTH),
    fragment: b.subarray(p + RECORD_HEADER_LENGTH, p + RECORD_HEADER_LENGTH + length),
  };
}

function checkHeader(type: number, length: number): PqtlsError | null {
  if (!isRecordContentType(type)) return new PqtlsError(`unknown record content type ${type}`, AlertDescription.unexpected_message);
  if (length > maxRecordLength(type)) return new RecordOverflowError(`record of type ${type} with ${length} bytes exceeds ${maxRecordLength(type)}`);
  if (length === 0 && (type === ContentType.handshake || type === ContentType.alert)) {
    return new PqtlsError(`empty ${type === ContentType.handshake ? 'handshake' : 'alert'} record`, AlertDescription.unexpected_message);
  }
  return null;
}

/**
 * Splits data into fragments of at most `maxFragmentLength` bytes (2^14 by
 * default; less under a record_size_limit). Returns views, not copies; no
 * fragments for empty data.
 */
export function fragment(data: Uint8Array, maxFragmentLength: number = MAX_PLAINTEXT): Uint8Array[] {
  if (!Number.isInteger(maxFragmentLength) || maxFragmentLength < 1 || maxFragmentLength > MAX_PLAINTEXT) {
    throw new ConfigError(`fragment length must be in [1, 2^14], got ${maxFragmentLength}`);
  }
  const out: Uint8Array[] = [];
  for (let o = 0; o < data.length; o += maxFragmentLength) out.push(data.subarray(o, Math.min(data.length, o + maxFragmentLength)));
  return out;
}

/** One TLSPlaintext record: header and fragment (at most 2^14 bytes). */
export function encodeRecord(type: ContentType, fragmentBytes: Uint8Array, legacyVersion: number = LEGACY_RECORD_VERSION): Uint8Array {
  if (fragmentBytes.length > MAX_PLAINTEXT) throw new ConfigError(`record fragment of ${fragmentBytes.length} bytes exceeds 2^14`);
  if (!isRecordContentType(type)) throw new ConfigError(`invalid record content type ${type}`);
  const out = new Uint8Array(RECORD_HEADER_LENGTH + fragmentBytes.length);
  out[0] = type;
  out[1] = (legacyVersion >> 8) & 0xff;
  out[2] = legacyVersion & 0xff;
  out[3] = fragmentBytes.length >> 8;
  out[4] = fragmentBytes.length & 0xff;
  out.set(fragmentBytes, RECORD_HEADER_LENGTH);
  return out;
}

export interface EncodeRecordsOptions {
  /** legacy_record_version; 0x0303 except possibly 0x0301 for an initial ClientHello (§5.1). */
  readonly legacyVersion?: number;
  /** Largest fragment, 2^14 by default. */
  readonly maxFragmentLength?: number;
}

/**
 * Frames unprotected data as TLSPlaintext records of at most 2^14 bytes each
 * (handshake messages may span records, §5.1). Empty data yields no records.
 */
export function encodeRecords(type: ContentType, data: Uint8Array, options: EncodeRecordsOptions = {}): Uint8Array[] {
  return fragment(data, options.maxFragmentLength).map((f) => encodeRecord(type, f, options.legacyVersion));
}

/**
 * The same bytes with every run of pieces shorter than `small` joined into one
 * array (the runs share one allocation); longer pieces pass through
 * uncopied. Records sealed in pieces alternate a large body with a few small
 * arrays (tag, next header): joined, a transport's writev gets two buffers per
 * record instead of four or more.
 */
export function joinSmallPieces(pieces: Uint8Array[], small = 1024): Uint8Array[] {
  let smallBytes = 0;
  let smallCount = 0;
  for (const p of pieces) {
    if (p.length < small) {
      smallBytes += p.length;
      smallCount++;
    }
  }
  if (smallCount < 2) return pieces.filter((p) => p.length > 0);
  const glue = new Uint8Array(smallBytes);
  const out: Uint8Array[] = [];
  let g = 0;
  let run = -1;
  for (const p of pieces) {
    if (p.length < small) {
      if (run < 0) run = g;
      glue.set(p, g);
      g += p.length;
      continue;
    }
    if (run >= 0 && g > run) out.push(glue.subarray(run, g));
    run = -1;
    out.push(p);
  }
  if (run >= 0 && g > run) out.push(glue.subarray(run, g));
  return out;
}
