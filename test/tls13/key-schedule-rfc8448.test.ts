/**
 * RFC 8446 §7.1 key schedule, §4.4.4 Finished, §4.2.11.2 binders, §4.6.1
 * ticket PSKs and §7.3 traffic keys, reproduced against every value the
 * RFC 8448 §3 (1-RTT) and §4 (resumed 0-RTT) traces list.
 */
import { describe, expect, it } from 'vitest';
import { concat, fromHex, toHex } from '../../src/bytes.js';
import { Reader } from '../../src/codec/reader.js';
import { NamedGroup } from '../../src/pq/ids.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { scriptedRandom, seededRandom } from '../../src/testing/index.js';
import { cipherSuiteInfo, CipherSuite } from '../../src/tls13/cipher-suites.js';
import {
  computeBinder, computeEarlySecret, computeHandshakeSecret, computeMasterSecret, deriveBinderKey, deriveTrafficKeys,
  emptyHash, finishedKey, finishedVerifyData, KeySchedule, ticketPsk, verifyFinished,
} from '../../src/tls13/key-schedule.js';
import { HandshakeKeySchedule } from '../../src/tls13/handshake/secrets.js';
import { Transcript } from '../../src/tls13/transcript.js';
import { bytes, resumed0Rtt, SECRET_OF_KEYS, sharedSecretOf, simple1Rtt, type Rfc8448Trace } from '../helpers/rfc8448.js';

const provider = createNobleProvider({ random: seededRandom('rfc8448 key schedule') });
const suite = cipherSuiteInfo(CipherSuite.TLS_AES_128_GCM_SHA256)!;
const H = suite.hash;
const hex = (b: Uint8Array): string => toHex(b);

/** The transcript hashes of a trace, recomputed from its handshake messages. */
function transcripts(t: Rfc8448Trace, order: readonly string[]): Map<string, Uint8Array> {
  const tr = new Transcript(provider, H);
  const at = new Map<string, Uint8Array>();
  for (const name of order) {
    tr.update(bytes(t.messages, name));
    at.set(name, tr.hash());
  }
  return at;
}

/** Every traffic key and IV the trace lists, derived from its secret (§7.3). */
async function checkTrafficKeys(t: Rfc8448Trace): Promise<void> {
  const names = Object.keys(t.trafficKeys);
  expect(names.length).toBeGreaterThanOrEqual(4);
  for (const name of names) {
    const secret = bytes(t.secrets, SECRET_OF_KEYS[name]!);
    const { key, iv } = await deriveTrafficKeys(provider, suite, secret);
    expect({ name, key: hex(key), iv: hex(iv) }).toEqual({ name, ...t.trafficKeys[name] });
  }
}

describe('RFC 8448 §3 Simple 1-RTT Handshake', () => {
  const t = simple1Rtt;
  const th = transcripts(t, [
    'clientHello', 'serverHello', 'encryptedExtensions', 'certificate', 'certificateVerify', 'serverFinished', 'clientFinished',
  ]);

  it('x25519 key shares and shared secret come from the listed private keys (§7.4.2)', async () => {
    const x = t.x25519!;
    const client = await createNobleProvider({ random: scriptedRandom([fromHex(x.client.privateKey)]) })
      .keyExchange(NamedGroup.x25519).generate();
    expect(hex(client.share)).toBe(x.client.publicKey);
    const server = await createNobleProvider({ random: scriptedRandom([fromHex(x.server.privateKey)]) })
      .keyExchange(NamedGroup.x25519).encapsulate(client.share);
    expect(hex(server.share)).toBe(x.server.publicKey);
    expect(hex(server.secret)).toBe(x.sharedSecret);
    expect(hex(await client.complete(server.share))).toBe(x.sharedSecret);
  });

  it('transcript hashes match the "hash" inputs of each Derive-Secret', () => {
    expect(hex(emptyHash(provider, H))).toBe(t.transcriptHashes.empty);
    expect(hex(th.get('serverHello')!)).toBe(t.transcriptHashes.clientHelloToServerHello);
    expect(hex(th.get('serverFinished')!)).toBe(t.transcriptHashes.clientHelloToServerFinished);
    expect(hex(th.get('clientFinished')!)).toBe(t.transcriptHashes.clientHelloToClientFinished);
  });

  it('early, handshake and master secrets, step by step (§7.1)', async () => {
    const early = await computeEarlySecret(provider, H, null);
    expect(hex(early)).toBe(t.secrets.early);
    const hs = await computeHandshakeSecret(provider, H, early, sharedSecretOf(t));
    expect(hex(hs)).toBe(t.secrets.handshake);
    expect(hex(await computeMasterSecret(provider, H, hs))).toBe(t.secrets.master);
  });

  it('without a PSK the Early Secret and its "derived" salt are derived once per provider and hash, and the handshake secrets are RFC 8448\'s', async () => {
    const counted = { extract: 0, expand: 0 };
    const base = createNobleProvider({ random: seededRandom('psk-less constants') });
    const p: typeof base = {
      ...base,
      hkdfExtract: (...a) => (counted.extract++, base.hkdfExtract(...a)),
      hkdfExpand: (...a) => (counted.expand++, base.hkdfExpand(...a)),
    };
    const th = bytes(t.transcriptHashes, 'clientHelloToServerHello');
    const first = await (await HandshakeKeySchedule.start(p, suite)).handshake(sharedSecretOf(t), th);
    // Early Secret, the "derived" salt, the Handshake Secret, and its two traffic secrets.
    expect(counted).toEqual({ extract: 2, expand: 3 });
    const second = await (await HandshakeKeySchedule.start(p, suite)).handshake(sharedSecretOf(t), th);
    // Only what depends on the handshake: the Handshake Secret and its two traffic secrets.
    expect(counted).toEqual({ extract: 3, expand: 5 });
    for (const stage of [first, second]) {
      expect(hex(stage.clientSecret)).toBe(t.secrets.clientHandshakeTraffic);
      expect(hex(stage.serverSecret)).toBe(t.secrets.serverHandshakeTraffic);
    }
  });

  it('every secret through the KeySchedule class', async () => {
    const ks = await KeySchedule.start(provider, H);
    expect(hex(ks.earlySecret)).toBe(t.secrets.early);
    await ks.enterHandshake(sharedSecretOf(t));
    expect(hex(ks.handshakeSecret)).toBe(t.secrets.handshake);
    const hsTraffic = await ks.handshakeTrafficSecrets(th.get('serverHello')!);
    expect(hex(hsTraffic.client)).toBe(t.secrets.clientHandshakeTraffic);
    expect(hex(hsTraffic.server)).toBe(t.secrets.serverHandshakeTraffic);
    await ks.enterMaster();
    expect(hex(ks.masterSecret)).toBe(t.secrets.master);
    const ap = await ks.applicationTrafficSecrets(th.get('serverFinished')!);
    expect(hex(ap.client)).toBe(t.secrets.clientApplicationTraffic0);
    expect(hex(ap.server)).toBe(t.secrets.serverApplicationTraffic0);
    expect(hex(await ks.exporterMasterSecret(th.get('serverFinished')!))).toBe(t.secrets.exporterMaster);
    expect(hex(await ks.resumptionMasterSecret(th.get('clientFinished')!))).toBe(t.secrets.resumptionMaster);
  });

  it('the "derived" salts of each stage', async () => {
    const { deriveSecret } = await import('../../src/tls13/hkdf-label.js');
    const empty = emptyHash(provider, H);
    expect(hex(await deriveSecret(provider, H, bytes(t.secrets, 'early'), 'derived', empty))).toBe(t.secrets.derivedForHandshake);
    expect(hex(await deriveSecret(provider, H, bytes(t.secrets, 'handshake'), 'derived', empty))).toBe(t.secrets.derivedForMaster);
  });

  it('traffic keys and IVs for handshake and application data (§7.3)', () => checkTrafficKeys(t));

  it('server and client Finished: finished_key and verify_data (§4.4.4)', async () => {
    const sKey = bytes(t.secrets, 'serverHandshakeTraffic');
    const cKey = bytes(t.secrets, 'clientHandshakeTraffic');
    expect(hex(await finishedKey(provider, H, sKey))).toBe(t.finished.server.finishedKey);
    expect(hex(await finishedKey(provider, H, cKey))).toBe(t.finished.client.finishedKey);
    // Server Finished covers ClientHello..CertificateVerify; client Finished covers ..server Finished.
    const sVerify = await finishedVerifyData(provider, H, sKey, th.get('certificateVerify')!);
    const cVerify = await finishedVerifyData(provider, H, cKey, th.get('serverFinished')!);
    expect(hex(sVerify)).toBe(t.finished.server.verifyData);
    expect(hex(cVerify)).toBe(t.finished.client.verifyData);
    expect(hex(concat(fromHex('14000020'), sVerify))).toBe(t.messages.serverFinished);
    expect(hex(concat(fromHex('14000020'), cVerify))).toBe(t.messages.clientFinished);
    expect(await verifyFinished(provider, H, sKey, th.get('certificateVerify')!, sVerify)).toBe(true);
    const forged = sVerify.slice();
    forged[31] = (forged[31] as number) ^ 1;
    expect(await verifyFinished(provider, H, sKey, th.get('certificateVerify')!, forged)).toBe(false);
    // A Finished computed with the other side's key must not verify.
    expect(await verifyFinished(provider, H, cKey, th.get('certificateVerify')!, sVerify)).toBe(false);
  });

  it('the ticket PSK from resumption_master_secret and the NewSessionTicket nonce (§4.6.1)', async () => {
    // NewSessionTicket: type, u24 length, ticket_lifetime, ticket_age_add, ticket_nonce<0..255>, ...
    const r = new Reader(bytes(t.messages, 'newSessionTicket'));
    expect(r.u8()).toBe(4);
    r.u24();
    r.u32();
    r.u32();
    const nonce = r.vec(1);
    expect(hex(nonce)).toBe(t.ticket!.nonce);
    const psk = await ticketPsk(provider, H, bytes(t.secrets, 'resumptionMaster'), nonce);
    expect(hex(psk)).toBe(t.ticket!.psk);
  });
});

describe('RFC 8448 §4 Resumed 0-RTT Handshake', () => {
  const t = resumed0Rtt;
  const th = transcripts(t, ['clientHello', 'serverHello', 'encryptedExtensions', 'serverFinished', 'endOfEarlyData', 'clientFinished']);

  it('resumes with the PSK of the §3 ticket', () => {
    expect(t.psk).toBe(simple1Rtt.ticket!.psk);
  });

  it('early secret from the PSK, binder key, and the binder in the ClientHello (§4.2.11.2)', async () => {
    const psk = fromHex(t.psk!);
    const early = await computeEarlySecret(provider, H, psk);
    expect(hex(early)).toBe(t.secrets.early);
    const binderKey = await deriveBinderKey(provider, H, early, 'resumption');
    expect(hex(binderKey)).toBe(t.secrets.resBinderKey);
    expect(hex(await finishedKey(provider, H, binderKey))).toBe(t.binder!.finishedKey);
    // The binder hashes the ClientHello up to, not including, the binders list.
    const prefix = bytes(t.messages, 'clientHelloPrefix');
    const truncatedHash = Transcript.buffered().start(provider, H).hashWith(prefix);
    expect(hex(truncatedHash)).toBe(t.transcriptHashes.clientHelloPrefix);
    const binder = await computeBinder(provider, H, binderKey, truncatedHash);
    expect(hex(binder)).toBe(t.binder!.value);
    // ... and the full ClientHello is the prefix followed by binders<33..2^16-1> holding that one binder.
    expect(hex(bytes(t.messages, 'clientHello'))).toBe(hex(concat(prefix, fromHex('002120'), binder)));

    const ks = await KeySchedule.start(provider, H, psk);
    expect(hex(await ks.binder('resumption', truncatedHash))).toBe(t.binder!.value);
    // An external PSK uses a different label, hence a different binder key.
    expect(hex(await ks.binderKey('external'))).not.toBe(t.secrets.resBinderKey);
  });

  it('every secret through the KeySchedule class, 0-RTT secrets included', async () => {
    const ks = await KeySchedule.start(provider, H, fromHex(t.psk!));
    expect(hex(ks.earlySecret)).toBe(t.secrets.early);
    const ch = th.get('clientHello')!;
    expect(hex(ch)).toBe(t.transcriptHashes.clientHello);
    expect(hex(await ks.clientEarlyTrafficSecret(ch))).toBe(t.secrets.clientEarlyTraffic);
    expect(hex(await ks.earlyExporterMasterSecret(ch))).toBe(t.secrets.earlyExporterMaster);

    await ks.enterHandshake(sharedSecretOf(t));
    expect(hex(ks.handshakeSecret)).toBe(t.secrets.handshake);
    expect(hex(th.get('serverHello')!)).toBe(t.transcriptHashes.clientHelloToServerHello);
    const hsTraffic = await ks.handshakeTrafficSecrets(th.get('serverHello')!);
    expect(hex(hsTraffic.client)).toBe(t.secrets.clientHandshakeTraffic);
    expect(hex(hsTraffic.server)).toBe(t.secrets.serverHandshakeTraffic);

    await ks.enterMaster();
    expect(hex(ks.masterSecret)).toBe(t.secrets.master);
    expect(hex(th.get('serverFinished')!)).toBe(t.transcriptHashes.clientHelloToServerFinished);
    const ap = await ks.applicationTrafficSecrets(th.get('serverFinished')!);
    expect(hex(ap.client)).toBe(t.secrets.clientApplicationTraffic0);
    expect(hex(ap.server)).toBe(t.secrets.serverApplicationTraffic0);
    expect(hex(await ks.exporterMasterSecret(th.get('serverFinished')!))).toBe(t.secrets.exporterMaster);
    // The resumption secret covers EndOfEarlyData and the client Finished.
    expect(hex(th.get('clientFinished')!)).toBe(t.transcriptHashes.clientHelloToClientFinished);
    expect(hex(await ks.resumptionMasterSecret(th.get('clientFinished')!))).toBe(t.secrets.resumptionMaster);
  });

  it('traffic keys and IVs, early data included (§7.3)', () => checkTrafficKeys(t));

  it('server and client Finished (§4.4.4); the client Finished covers EndOfEarlyData', async () => {
    const ks = await KeySchedule.start(provider, H, fromHex(t.psk!));
    const sKey = bytes(t.secrets, 'serverHandshakeTraffic');
    const cKey = bytes(t.secrets, 'clientHandshakeTraffic');
    expect(hex(await ks.finishedKey(sKey))).toBe(t.finished.server.finishedKey);
    expect(hex(await ks.finishedKey(cKey))).toBe(t.finished.client.finishedKey);
    expect(hex(await ks.finishedVerifyData(sKey, th.get('encryptedExtensions')!))).toBe(t.finished.server.verifyData);
    expect(hex(await ks.finishedVerifyData(cKey, th.get('endOfEarlyData')!))).toBe(t.finished.client.verifyData);
    expect(await ks.verifyFinished(cKey, th.get('endOfEarlyData')!, fromHex(t.finished.client.verifyData))).toBe(true);
  });
});

describe('KeySchedule stage order', () => {
  it('refuses secrets before their stage and stages entered twice', async () => {
    const ks = await KeySchedule.start(provider, H);
    expect(() => ks.handshakeSecret).toThrow(/not derived/);
    expect(() => ks.clientHandshakeTrafficSecret(new Uint8Array(32))).toThrow(/not derived/);
    await expect(ks.enterMaster()).rejects.toThrow(/not derived/);
    expect(() => ks.binderKey('resumption')).toThrow(/needs a PSK/);
    await ks.enterHandshake(null);
    await expect(ks.enterHandshake(null)).rejects.toThrow(/already/);
    await ks.enterMaster();
    await expect(ks.enterMaster()).rejects.toThrow(/already/);
  });

  it('psk_ke mode: a null shared secret is HashLen zeros', async () => {
    const early = await computeEarlySecret(provider, H, fromHex(resumed0Rtt.psk!));
    const a = await computeHandshakeSecret(provider, H, early, null);
    const b = await computeHandshakeSecret(provider, H, early, new Uint8Array(32));
    expect(hex(a)).toBe(hex(b));
  });
});
