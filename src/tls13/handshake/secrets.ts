import { hashLength } from '../../pq/ids.js';
import type { CryptoProvider } from '../../pq/provider.js';
import type { CipherSuiteInfo } from '../cipher-suites.js';
import { deriveSecret, deriveSecretSync, hkdfLabel } from '../hkdf-label.js';
import {
  computeBinder, deriveBinderKey, emptyHash, ticketPsk, computeEarlySecret, computeHandshakeSecret, computeMasterSecret, finishedVerifyData as verifyData,
  nextTrafficSecret as next, pskLessSecrets, tlsExporter,
} from '../key-schedule.js';

/**
 * The key schedule (RFC 8446 §7.1) as immutable stages, so each handshake
 * state holds exactly the secrets it may use. The derivations themselves are
 * those of key-schedule.ts, proven against RFC 8448.
 */
export class HandshakeKeySchedule {
  private constructor(
    private readonly p: CryptoProvider,
    readonly suite: CipherSuiteInfo,
    private readonly earlySecret: Uint8Array,
    /** Derive-Secret(Early Secret, "derived", ""), when known up front (no PSK). */
    private readonly derived?: Uint8Array,
  ) {}

  /** Early Secret = HKDF-Extract(0, PSK or zeros); without a PSK, a constant of the hash (see pskLessSecrets). */
  static async start(p: CryptoProvider, suite: CipherSuiteInfo, psk?: Uint8Array): Promise<HandshakeKeySchedule> {
    if (psk === undefined) {
      const { earlySecret, derived } = await pskLessSecrets(p, suite.hash);
      return new HandshakeKeySchedule(p, suite, earlySecret, derived);
    }
    return new HandshakeKeySchedule(p, suite, await computeEarlySecret(p, suite.hash, psk));
  }

  /** The PSK binder over Hash(Truncate(ClientHello)) with the resumption binder key (§4.2.11.2). */
  async binder(truncatedHelloHash: Uint8Array): Promise<Uint8Array> {
    const key = await deriveBinderKey(this.p, this.suite.hash, this.earlySecret, 'resumption');
    return computeBinder(this.p, this.suite.hash, key, truncatedHelloHash);
  }

  /** client_early_traffic_secret; `th` = Hash(ClientHello). */
  clientEarlyTrafficSecret(th: Uint8Array): Promise<Uint8Array> {
    return deriveSecret(this.p, this.suite.hash, this.earlySecret, 'c e traffic', th);
  }

  /** Handshake Secret and both handshake traffic secrets; `th` = Hash(ClientHello..ServerHello). */
  async handshake(sharedSecret: Uint8Array | null, th: Uint8Array): Promise<HandshakeStage> {
    const { p, suite } = this;
    const extract = p.hkdfExtract.sync;
    const expand = p.hkdfExpand.sync;
    if (extract && expand && this.derived) {
      // The same steps on the calling thread (see MaybeSync): HKDF-Extract(derived, shared secret), then Derive-Secret twice.
      const secret = extract(suite.hash, this.derived, sharedSecret ?? new Uint8Array(hashLength(suite.hash)));
      return new HandshakeStage(p, suite, secret, deriveSecretSync(expand, suite.hash, secret, 'c hs traffic', th),
        deriveSecretSync(expand, suite.hash, secret, 's hs traffic', th));
    }
    const hs = await computeHandshakeSecret(p, suite.hash, this.earlySecret, sharedSecret, this.derived);
    const client = await deriveSecret(p, suite.hash, hs, 'c hs traffic', th);
    const server = await deriveSecret(p, suite.hash, hs, 's hs traffic', th);
    return new HandshakeStage(p, suite, hs, client, server);
  }
}

export class HandshakeStage {
  constructor(
    private readonly p: CryptoProvider,
    readonly suite: CipherSuiteInfo,
    private readonly handshakeSecret: Uint8Array,
    readonly clientSecret: Uint8Array,
    readonly serverSecret: Uint8Array,
  ) {}

  /** Master Secret and the application secrets; `th` = Hash(ClientHello..server Finished). */
  async master(th: Uint8Array): Promise<MasterStage> {
    const { p, suite } = this;
    const extract = p.hkdfExtract.sync;
    const expand = p.hkdfExpand.sync;
    if (extract && expand) {
      // computeMasterSecret and four Derive-Secrets on the calling thread (see MaybeSync).
      const salt = deriveSecretSync(expand, suite.hash, this.handshakeSecret, 'derived', emptyHash(p, suite.hash));
      const master = extract(suite.hash, salt, new Uint8Array(hashLength(suite.hash)));
      return {
        master,
        clientSecret: deriveSecretSync(expand, suite.hash, master, 'c ap traffic', th),
        serverSecret: deriveSecretSync(expand, suite.hash, master, 's ap traffic', th),
        exporterSecret: deriveSecretSync(expand, suite.hash, master, 'exp master', th),
      };
    }
    const master = await computeMasterSecret(p, suite.hash, this.handshakeSecret);
    return {
      master,
      clientSecret: await deriveSecret(p, suite.hash, master, 'c ap traffic', th),
      serverSecret: await deriveSecret(p, suite.hash, master, 's ap traffic', th),
      exporterSecret: await deriveSecret(p, suite.hash, master, 'exp master', th),
    };
  }
}

export interface MasterStage {
  readonly master: Uint8Array;
  readonly clientSecret: Uint8Array;
  readonly serverSecret: Uint8Array;
  readonly exporterSecret: Uint8Array;
}

/** resumption_master_secret; `th` = Hash(ClientHello..client Finished). */
export function resumptionMasterSecret(p: CryptoProvider, suite: CipherSuiteInfo, master: Uint8Array, th: Uint8Array): Promise<Uint8Array> {
  return deriveSecret(p, suite.hash, master, 'res master', th);
}

/** Finished.verify_data (RFC 8446 §4.4.4). */
export function finishedVerifyData(p: CryptoProvider, suite: CipherSuiteInfo, baseKey: Uint8Array, th: Uint8Array): Promise<Uint8Array> {
  const expand = p.hkdfExpand.sync;
  const hmac = p.hmac.sync;
  if (expand && hmac) {
    // HMAC(finished_key, th), finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length), on the calling thread.
    const n = hashLength(suite.hash);
    try {
      return Promise.resolve(hmac(suite.hash, expand(suite.hash, baseKey, hkdfLabel('finished', new Uint8Array(0), n), n), th));
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return verifyData(p, suite.hash, baseKey, th);
}

/** application_traffic_secret_N+1 (RFC 8446 §7.2). */
export function nextTrafficSecret(p: CryptoProvider, suite: CipherSuiteInfo, secret: Uint8Array): Promise<Uint8Array> {
  return next(p, suite.hash, secret);
}

/** The PSK of a NewSessionTicket (§4.6.1). */
export function ticketPskFor(p: CryptoProvider, suite: CipherSuiteInfo, resumptionSecret: Uint8Array, nonce: Uint8Array): Promise<Uint8Array> {
  return ticketPsk(p, suite.hash, resumptionSecret, nonce);
}

/** TLS-Exporter (RFC 8446 §7.5). */
export function exportKeyingMaterial(
  p: CryptoProvider, suite: CipherSuiteInfo, exporterSecret: Uint8Array, label: string, context: Uint8Array, length: number,
): Promise<Uint8Array> {
  return tlsExporter(p, suite.hash, exporterSecret, label, context, length);
}
