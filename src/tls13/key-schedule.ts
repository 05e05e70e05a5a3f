import { constantTimeEqual, utf8 } from '../bytes.js';
import { ConfigError } from '../errors.js';
import { hashLength, type HashAlgorithm } from '../pq/ids.js';
import type { CryptoProvider } from '../pq/provider.js';
import type { CipherSuiteInfo } from './cipher-suites.js';
import { deriveSecret, hkdfExpandLabel } from './hkdf-label.js';

/*
 * The TLS 1.3 key schedule (RFC 8446 §7.1):
 *
 *            0
 *            |
 *  PSK ->  HKDF-Extract = Early Secret --> binder_key, c e traffic, e exp master
 *            |
 *      Derive-Secret(., "derived", "")
 *            |
 * (EC)DHE -> HKDF-Extract = Handshake Secret --> c hs traffic, s hs traffic
 *            |
 *      Derive-Secret(., "derived", "")
 *            |
 *  0 ->    HKDF-Extract = Master Secret --> c ap traffic, s ap traffic, exp master, res master
 *
 * The free functions below are the individual steps; {@link KeySchedule} walks
 * them in order for a connection. Every step is async because HKDF and HMAC
 * go through the CryptoProvider.
 */

/** Hash of the empty string: the context of `Derive-Secret(., "derived", "")` and of the binder keys. */
export function emptyHash(provider: CryptoProvider, hash: HashAlgorithm): Uint8Array {
  return provider.hash(hash).digest(new Uint8Array(0));
}

function zeros(hash: HashAlgorithm): Uint8Array {
  return new Uint8Array(hashLength(hash));
}

/** Early Secret = HKDF-Extract(0, PSK), with HashLen zeros for the PSK when there is none. */
export function computeEarlySecret(provider: CryptoProvider, hash: HashAlgorithm, psk?: Uint8Array | null): Promise<Uint8Array> {
  return provider.hkdfExtract(hash, zeros(hash), psk ?? zeros(hash));
}

/** Without a PSK: the Early Secret and the salt it gives the next stage. */
export interface PskLessSecrets {
  /** HKDF-Extract(0, 0). */
  readonly earlySecret: Uint8Array;
  /** Derive-Secret(Early Secret, "derived", ""). */
  readonly derived: Uint8Array;
}

const PSK_LESS = new WeakMap<CryptoProvider, Map<HashAlgorithm, Promise<PskLessSecrets>>>();

/**
 * Without a PSK the Early Secret and its "derived" salt are constants of the
 * hash (RFC 8446 §7.1: HKDF-Extract over zeros, then Derive-Secret over the
 * empty transcript): computed once per provider and hash, where a full
 * handshake would otherwise spend an HKDF-Extract and an HKDF-Expand on each
 * side recomputing them. Each caller gets its own copies; a failed derivation
 * is not kept.
 */
export async function pskLessSecrets(provider: CryptoProvider, hash: HashAlgorithm): Promise<PskLessSecrets> {
  let byHash = PSK_LESS.get(provider);
  if (!byHash) PSK_LESS.set(provider, (byHash = new Map()));
  let pending = byHash.get(hash);
  if (!pending) {
    const computed = (async (): Promise<PskLessSecrets> => {
      const earlySecret = await computeEarlySecret(provider, hash);
      return { earlySecret, derived: await deriveSecret(provider, hash, earlySecret, 'derived', emptyHash(provider, hash)) };
    })();
    const cache = byHash;
    cache.set(hash, computed);
    computed.catch(() => {
      if (cache.get(hash) === computed) cache.delete(hash);
    });
    pending = computed;
  }
  const s = await pending;
  return { earlySecret: s.earlySecret.slice(), derived: s.derived.slice() };
}

/** Whether a PSK came from a resumption ticket (`res binder`) or was provisioned externally (`ext binder`), §4.2.11. */
export type PskKind = 'resumption' | 'external';

/** binder_key = Derive-Secret(Early Secret, "res binder" | "ext binder", ""). */
export function deriveBinderKey(provider: CryptoProvider, hash: HashAlgorithm, earlySecret: Uint8Array, kind: PskKind): Promise<Uint8Array> {
  const label = kind === 'resumption' ? 'res binder' : 'ext binder';
  return deriveSecret(provider, hash, earlySecret, label, emptyHash(provider, hash));
}

/**
 * The secret of the next stage: HKDF-Extract(Derive-Secret(previous, "derived", ""), ikm),
 * with HashLen zeros for an absent IKM (psk_ke mode, and always for the Master Secret).
 */
async function nextStage(provider: CryptoProvider, hash: HashAlgorithm, previous: Uint8Array, ikm: Uint8Array | null): Promise<Uint8Array> {
  const salt = await deriveSecret(provider, hash, previous, 'derived', emptyHash(provider, hash));
  return provider.hkdfExtract(hash, salt, ikm ?? zeros(hash));
}

/**
 * Handshake Secret from the Early Secret and the (EC)DHE or KEM shared secret
 * (null in psk_ke mode). `derived`, when the caller has it
 * ({@link pskLessSecrets}), is Derive-Secret(Early Secret, "derived", "").
 */
export function computeHandshakeSecret(
  provider: CryptoProvider, hash: HashAlgorithm, earlySecret: Uint8Array, sharedSecret: Uint8Array | null, derived?: Uint8Array,
): Promise<Uint8Array> {
  if (derived) return provider.hkdfExtract(hash, derived, sharedSecret ?? zeros(hash));
  return nextStage(provider, hash, earlySecret, sharedSecret);
}

/** Master Secret from the Handshake Secret. */
export function computeMasterSecret(provider: CryptoProvider, hash: HashAlgorithm, handshakeSecret: Uint8Array): Promise<Uint8Array> {
  return nextStage(provider, hash, handshakeSecret, null);
}

/** finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (§4.4.4). */
export function finishedKey(provider: CryptoProvider, hash: HashAlgorithm, baseKey: Uint8Array): Promise<Uint8Array> {
  return hkdfExpandLabel(provider, hash, baseKey, 'finished', new Uint8Array(0), hashLength(hash));
}

/**
 * Finished.verify_data = HMAC(finished_key, Transcript-Hash(...)) (§4.4.4),
 * where `baseKey` is the sender's handshake (or post-handshake application)
 * traffic secret. The PSK binder is the same computation over the binder key
 * (§4.2.11.2), see {@link computeBinder}.
 */
export async function finishedVerifyData(
  provider: CryptoProvider, hash: HashAlgorithm, baseKey: Uint8Array, transcriptHash: Uint8Array,
): Promise<Uint8Array> {
  return provider.hmac(hash, await finishedKey(provider, hash, baseKey), transcriptHash);
}

/** Checks a peer's Finished.verify_data in constant time; the caller sends decrypt_error on false (§4.4.4). */
export async function verifyFinished(
  provider: CryptoProvider, hash: HashAlgorithm, baseKey: Uint8Array, transcriptHash: Uint8Array, verifyData: Uint8Array,
): Promise<boolean> {
  return constantTimeEqual(await finishedVerifyData(provider, hash, baseKey, transcriptHash), verifyData);
}

/** PSK binder (§4.2.11.2): HMAC over Transcript-Hash(Truncate(ClientHello)) under finished_key(binder_key). */
export function computeBinder(
  provider: CryptoProvider, hash: HashAlgorithm, binderKey: Uint8Array, truncatedHelloHash: Uint8Array,
): Promise<Uint8Array> {
  return finishedVerifyData(provider, hash, binderKey, truncatedHelloHash);
}

/** The PSK of a NewSessionTicket: HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length) (§4.6.1). */
export function ticketPsk(
  provider: CryptoProvider, hash: HashAlgorithm, resumptionMasterSecret: Uint8Array, ticketNonce: Uint8Array,
): Promise<Uint8Array> {
  return hkdfExpandLabel(provider, hash, resumptionMasterSecret, 'resumption', ticketNonce, hashLength(hash));
}

/** application_traffic_secret_N+1 = HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "", Hash.length) (§7.2). */
export function nextTrafficSecret(provider: CryptoProvider, hash: HashAlgorithm, secret: Uint8Array): Promise<Uint8Array> {
  return hkdfExpandLabel(provider, hash, secret, 'traffic upd', new Uint8Array(0), hashLength(hash));
}

/** A record-protection key and IV (§7.3). */
export interface TrafficKeys {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
}

/** write_key = HKDF-Expand-Label(Secret, "key", "", key_length); write_iv = HKDF-Expand-Label(Secret, "iv", "", iv_length) (§7.3). */
export async function deriveTrafficKeys(provider: CryptoProvider, suite: CipherSuiteInfo, secret: Uint8Array): Promise<TrafficKeys> {
  const empty = new Uint8Array(0);
  const [key, iv] = await Promise.all([
    hkdfExpandLabel(provider, suite.hash, secret, 'key', empty, suite.keyLength),
    hkdfExpandLabel(provider, suite.hash, secret, 'iv', empty, suite.ivLength),
  ]);
  return { key, iv };
}

/**
 * TLS-Exporter(label, context_value, key_length) (§7.5) =
 * HKDF-Expand-Label(Derive-Secret(Secret, label, ""), "exporter", Hash(context_value), key_length),
 * where Secret is exporter_master_secret or early_exporter_master_secret. An
 * absent context and an empty one give the same output, as §7.5 specifies.
 */
export async function tlsExporter(
  provider: CryptoProvider, hash: HashAlgorithm, exporterSecret: Uint8Array, label: string,
  context: Uint8Array | undefined, length: number,
): Promise<Uint8Array> {
  if (utf8(label).length > 249) throw new ConfigError('exporter label longer than 249 bytes');
  const h = provider.hash(hash);
  const secret = await deriveSecret(provider, hash, exporterSecret, label, h.digest(new Uint8Array(0)));
  return hkdfExpandLabel(provider, hash, secret, 'exporter', h.digest(context ?? new Uint8Array(0)), length);
}

/** The two traffic secrets of one epoch. */
export interface TrafficSecrets {
  readonly client: Uint8Array;
  readonly server: Uint8Array;
}

/**
 * The key schedule of one connection, stage by stage: construct with
 * {@link KeySchedule.start} (Early Secret), then
 * {@link KeySchedule.enterHandshake} with the shared secret, then
 * {@link KeySchedule.enterMaster}. Each secret is available from the stage
 * that defines it; asking early, or entering a stage twice, raises
 * {@link ConfigError}. Transcript hashes come from the caller's
 * {@link Transcript}, so this class never sees a handshake message.
 */
export class KeySchedule {
  private handshake: Uint8Array | null = null;
  private master: Uint8Array | null = null;

  private constructor(
    readonly provider: CryptoProvider,
    readonly hash: HashAlgorithm,
    /** HKDF-Extract(0, PSK or zeros). */
    readonly earlySecret: Uint8Array,
    /** Whether the Early Secret came from a PSK (so early secrets and binders are meaningful). */
    readonly hasPsk: boolean,
  ) {}

  /** Starts a schedule at the Early Secret, from a PSK or from none. */
  static async start(provider: CryptoProvider, hash: HashAlgorithm, psk?: Uint8Array | null): Promise<KeySchedule> {
    if (psk && psk.length === 0) throw new ConfigError('PSK must not be empty');
    return new KeySchedule(provider, hash, await computeEarlySecret(provider, hash, psk), psk != null);
  }

  get hashLength(): number {
    return hashLength(this.hash);
  }

  /** Handshake Secret, once {@link enterHandshake} has run. */
  get handshakeSecret(): Uint8Array {
    if (!this.handshake) throw new ConfigError('handshake secret not derived yet');
    return this.handshake;
  }

  /** Master Secret, once {@link enterMaster} has run. */
  get masterSecret(): Uint8Array {
    if (!this.master) throw new ConfigError('master secret not derived yet');
    return this.master;
  }

  private requirePsk(what: string): void {
    if (!this.hasPsk) throw new ConfigError(`${what} needs a PSK`);
  }

  /** binder_key for a resumption or external PSK. */
  binderKey(kind: PskKind): Promise<Uint8Array> {
    this.requirePsk('binder_key');
    return deriveBinderKey(this.provider, this.hash, this.earlySecret, kind);
  }

  /** The binder value for a PSK identity, given Transcript-Hash(Truncate(ClientHello)). */
  async binder(kind: PskKind, truncatedHelloHash: Uint8Array): Promise<Uint8Array> {
    return computeBinder(this.provider, this.hash, await this.binderKey(kind), truncatedHelloHash);
  }

  /** client_early_traffic_secret = Derive-Secret(Early Secret, "c e traffic", ClientHello). */
  clientEarlyTrafficSecret(clientHelloHash: Uint8Array): Promise<Uint8Array> {
    this.requirePsk('client_early_traffic_secret');
    return deriveSecret(this.provider, this.hash, this.earlySecret, 'c e traffic', clientHelloHash);
  }

  /** early_exporter_master_secret = Derive-Secret(Early Secret, "e exp master", ClientHello). */
  earlyExporterMasterSecret(clientHelloHash: Uint8Array): Promise<Uint8Array> {
    this.requirePsk('early_exporter_master_secret');
    return deriveSecret(this.provider, this.hash, this.earlySecret, 'e exp master', clientHelloHash);
  }

  /** Moves to the Handshake Secret with the (EC)DHE/KEM shared secret, or null for psk_ke. */
  async enterHandshake(sharedSecret: Uint8Array | null): Promise<void> {
    if (this.handshake) throw new ConfigError('handshake secret already derived');
    this.handshake = await computeHandshakeSecret(this.provider, this.hash, this.earlySecret, sharedSecret);
  }

  /** client_handshake_traffic_secret = Derive-Secret(Handshake Secret, "c hs traffic", ClientHello...ServerHello). */
  clientHandshakeTrafficSecret(helloHash: Uint8Array): Promise<Uint8Array> {
    return deriveSecret(this.provider, this.hash, this.handshakeSecret, 'c hs traffic', helloHash);
  }

  /** server_handshake_traffic_secret = Derive-Secret(Handshake Secret, "s hs traffic", ClientHello...ServerHello). */
  serverHandshakeTrafficSecret(helloHash: Uint8Array): Promise<Uint8Array> {
    return deriveSecret(this.provider, this.hash, this.handshakeSecret, 's hs traffic', helloHash);
  }

  /** Both handshake traffic secrets. */
  async handshakeTrafficSecrets(helloHash: Uint8Array): Promise<TrafficSecrets> {
    const [client, server] = await Promise.all([this.clientHandshakeTrafficSecret(helloHash), this.serverHandshakeTrafficSecret(helloHash)]);
    return { client, server };
  }

  /** Moves to the Master Secret. */
  async enterMaster(): Promise<void> {
    if (this.master) throw new ConfigError('master secret already derived');
    this.master = await computeMasterSecret(this.provider, this.hash, this.handshakeSecret);
  }

  /** client_application_traffic_secret_0 = Derive-Secret(Master Secret, "c ap traffic", ClientHello...server Finished). */
  clientApplicationTrafficSecret0(serverFinishedHash: Uint8Array): Promise<Uint8Array> {
    return deriveSecret(this.provider, this.hash, this.masterSecret, 'c ap traffic', serverFinishedHash);
  }

  /** server_application_traffic_secret_0 = Derive-Secret(Master Secret, "s ap traffic", ClientHello...server Finished). */
  serverApplicationTrafficSecret0(serverFinishedHash: Uint8Array): Promise<Uint8Array> {
    return deriveSecret(this.provider, this.hash, this.masterSecret, 's ap traffic', serverFinishedHash);
  }

  /** Both application traffic secrets of epoch 0. */
  async applicationTrafficSecrets(serverFinishedHash: Uint8Array): Promise<TrafficSecrets> {
    const [client, server] = await Promise.all([
      this.clientApplicationTrafficSecret0(serverFinishedHash), this.serverApplicationTrafficSecret0(serverFinishedHash),
    ]);
    return { client, server };
  }

  /** exporter_master_secret = Derive-Secret(Master Secret, "exp master", ClientHello...server Finished). */
  exporterMasterSecret(serverFinishedHash: Uint8Array): Promise<Uint8Array> {
    return deriveSecret(this.provider, this.hash, this.masterSecret, 'exp master', serverFinishedHash);
  }

  /** resumption_master_secret = Derive-Secret(Master Secret, "res master", ClientHello...client Finished). */
  resumptionMasterSecret(clientFinishedHash: Uint8Array): Promise<Uint8Array> {
    return deriveSecret(this.provider, this.hash, this.masterSecret, 'res master', clientFinishedHash);
  }

  /** finished_key for a base key, with this schedule's hash. */
  finishedKey(baseKey: Uint8Array): Promise<Uint8Array> {
    return finishedKey(this.provider, this.hash, baseKey);
  }

  /** Finished.verify_data under `baseKey` over `transcriptHash`. */
  finishedVerifyData(baseKey: Uint8Array, transcriptHash: Uint8Array): Promise<Uint8Array> {
    return finishedVerifyData(this.provider, this.hash, baseKey, transcriptHash);
  }

  /** Constant-time check of a received Finished.verify_data. */
  verifyFinished(baseKey: Uint8Array, transcriptHash: Uint8Array, verifyData: Uint8Array): Promise<boolean> {
    return verifyFinished(this.provider, this.hash, baseKey, transcriptHash, verifyData);
  }

  /** The next application traffic secret for a KeyUpdate (§7.2). */
  nextTrafficSecret(secret: Uint8Array): Promise<Uint8Array> {
    return nextTrafficSecret(this.provider, this.hash, secret);
  }

  /** The PSK for a ticket with `ticketNonce` (§4.6.1). */
  ticketPsk(resumptionMasterSecret: Uint8Array, ticketNonce: Uint8Array): Promise<Uint8Array> {
    return ticketPsk(this.provider, this.hash, resumptionMasterSecret, ticketNonce);
  }

  /** TLS-Exporter over an exporter master secret (§7.5). */
  export(exporterSecret: Uint8Array, label: string, context: Uint8Array | undefined, length: number): Promise<Uint8Array> {
    return tlsExporter(this.provider, this.hash, exporterSecret, label, context, length);
  }
}
