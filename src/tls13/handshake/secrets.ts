import type { CryptoProvider } from '../../pq/provider.js';
import type { CipherSuiteInfo } from '../cipher-suites.js';
import { deriveSecret, hkdfExpandLabel } from '../hkdf-label.js';

/**
 * The RFC 8446 §7.1 key schedule as one handshake walks it: early secret,
 * handshake secret from the key exchange, master secret. Each step needs the
 * transcript hash at a fixed point, which the caller passes in.
 */
export class HandshakeKeySchedule {
  private constructor(
    private readonly p: CryptoProvider,
    readonly suite: CipherSuiteInfo,
    private readonly earlySecret: Uint8Array,
  ) {}

  /** Early Secret = HKDF-Extract(0, PSK or zeros). */
  static async start(p: CryptoProvider, suite: CipherSuiteInfo, psk?: Uint8Array): Promise<HandshakeKeySchedule> {
    const early = await p.hkdfExtract(suite.hash, new Uint8Array(0), psk ?? new Uint8Array(suite.hashLength));
    return new HandshakeKeySchedule(p, suite, early);
  }

  private emptyHash(): Uint8Array {
    return this.p.hash(this.suite.hash).digest(new Uint8Array(0));
  }

  /** Handshake Secret and both handshake traffic secrets; `th` = Hash(ClientHello..ServerHello). */
  async handshake(sharedSecret: Uint8Array, th: Uint8Array): Promise<HandshakeStage> {
    const { p, suite } = this;
    const derived = await deriveSecret(p, suite.hash, this.earlySecret, 'derived', this.emptyHash());
    const hs = await p.hkdfExtract(suite.hash, derived, sharedSecret);
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
    const empty = p.hash(suite.hash).digest(new Uint8Array(0));
    const derived = await deriveSecret(p, suite.hash, this.handshakeSecret, 'derived', empty);
    const master = await p.hkdfExtract(suite.hash, derived, new Uint8Array(suite.hashLength));
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

/** Finished.verify_data = HMAC(finished_key, th) (RFC 8446 §4.4.4). */
export async function finishedVerifyData(p: CryptoProvider, suite: CipherSuiteInfo, baseKey: Uint8Array, th: Uint8Array): Promise<Uint8Array> {
  const key = await hkdfExpandLabel(p, suite.hash, baseKey, 'finished', new Uint8Array(0), suite.hashLength);
  return p.hmac(suite.hash, key, th);
}

/** application_traffic_secret_N+1 (RFC 8446 §7.2). */
export function nextTrafficSecret(p: CryptoProvider, suite: CipherSuiteInfo, secret: Uint8Array): Promise<Uint8Array> {
  return hkdfExpandLabel(p, suite.hash, secret, 'traffic upd', new Uint8Array(0), suite.hashLength);
}

/** TLS-Exporter (RFC 8446 §7.5). */
export async function exportKeyingMaterial(
  p: CryptoProvider, suite: CipherSuiteInfo, exporterSecret: Uint8Array, label: string, context: Uint8Array, length: number,
): Promise<Uint8Array> {
  const h = p.hash(suite.hash);
  const secret = await deriveSecret(p, suite.hash, exporterSecret, label, h.digest(new Uint8Array(0)));
  return hkdfExpandLabel(p, suite.hash, secret, 'exporter', h.digest(context), length);
}
