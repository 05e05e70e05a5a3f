/**
 * RFC 8446 §4.4.1 transcript hash: buffering until the suite is known, forks,
 * and the HelloRetryRequest rule that replaces ClientHello1 by message_hash,
 * checked against the RFC 8448 §5 trace.
 */
import { describe, expect, it } from 'vitest';
import { concat, toHex } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import { createNobleProvider } from '../../src/pq/noble/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { KeySchedule } from '../../src/tls13/key-schedule.js';
import { messageHashMessage, Transcript } from '../../src/tls13/transcript.js';
import { bytes, helloRetry, sharedSecretOf, simple1Rtt } from '../helpers/rfc8448.js';

const provider = createNobleProvider({ random: seededRandom('transcript') });
const sha256 = (b: Uint8Array): string => toHex(provider.hash('SHA-256').digest(b));

describe('Transcript-Hash (§4.4.1)', () => {
  const m = simple1Rtt.messages;

  it('is the hash of the concatenated messages (RFC 8448 §3 ClientHello..ServerHello)', () => {
    const t = new Transcript(provider, 'SHA-256').update(bytes(m, 'clientHello')).update(bytes(m, 'serverHello'));
    expect(toHex(t.hash())).toBe(simple1Rtt.transcriptHashes.clientHelloToServerHello);
    expect(t.messageCount).toBe(2);
  });

  it('a buffered transcript hashes what it kept once start() names the hash', () => {
    const t = Transcript.buffered();
    expect(t.started).toBe(false);
    expect(() => t.hash()).toThrow(ConfigError);
    t.update(bytes(m, 'clientHello'));
    t.start(provider, 'SHA-256').update(bytes(m, 'serverHello'));
    expect(t.started).toBe(true);
    expect(t.algorithm).toBe('SHA-256');
    expect(toHex(t.hash())).toBe(simple1Rtt.transcriptHashes.clientHelloToServerHello);
    expect(() => t.start(provider, 'SHA-384')).toThrow(ConfigError);
  });

  it('clones are independent, buffered or not; hash() and hashWith() leave the transcript unchanged', () => {
    const buffered = Transcript.buffered().update(bytes(m, 'clientHello'));
    const fork = buffered.clone();
    buffered.update(bytes(m, 'serverHello'));
    expect(toHex(fork.start(provider, 'SHA-256').hash())).toBe(sha256(bytes(m, 'clientHello')));

    const t = new Transcript(provider, 'SHA-384').update(bytes(m, 'clientHello'));
    const c = t.clone().update(bytes(m, 'serverHello'));
    expect(toHex(t.hash())).toBe(toHex(provider.hash('SHA-384').digest(bytes(m, 'clientHello'))));
    expect(toHex(t.hashWith(bytes(m, 'serverHello')))).toBe(toHex(c.hash()));
    expect(toHex(t.hash())).toBe(toHex(t.hash()));
    expect(t.messageCount).toBe(1);
  });

  it('needs both a provider and a hash, or neither', () => {
    expect(() => new Transcript(provider)).toThrow(ConfigError);
  });
});

describe('HelloRetryRequest: ClientHello1 becomes message_hash (§4.4.1, RFC 8448 §5)', () => {
  const h = helloRetry;
  const m = h.messages;

  it('message_hash is type 254, length HashLen, Hash(ClientHello1)', () => {
    const msg = messageHashMessage(provider.hash('SHA-256').digest(bytes(m, 'clientHello1')), 32);
    expect(toHex(msg.subarray(0, 4))).toBe('fe000020');
    expect(toHex(msg.subarray(4))).toBe(sha256(bytes(m, 'clientHello1')));
    expect(() => messageHashMessage(new Uint8Array(31), 32)).toThrow(ConfigError);
  });

  it('a client buffering ClientHello1 reproduces the §5 transcript and handshake traffic secrets', async () => {
    const t = Transcript.buffered().update(bytes(m, 'clientHello1'));
    t.start(provider, 'SHA-256').replaceWithMessageHash();
    t.update(bytes(m, 'helloRetryRequest')).update(bytes(m, 'clientHello')).update(bytes(m, 'serverHello'));
    expect(toHex(t.hash())).toBe(h.transcriptHashes.clientHelloToServerHello);

    const ks = await KeySchedule.start(provider, 'SHA-256');
    await ks.enterHandshake(sharedSecretOf(h));
    expect(toHex(ks.handshakeSecret)).toBe(h.secrets.handshake);
    const secrets = await ks.handshakeTrafficSecrets(t.hash());
    expect(toHex(secrets.client)).toBe(h.secrets.clientHandshakeTraffic);
    expect(toHex(secrets.server)).toBe(h.secrets.serverHandshakeTraffic);
  });

  it('the whole §5 transcript, through both Finished messages, gives the listed hashes', () => {
    const t = new Transcript(provider, 'SHA-256').update(bytes(m, 'clientHello1')).replaceWithMessageHash();
    for (const name of ['helloRetryRequest', 'clientHello', 'serverHello', 'encryptedExtensions', 'certificate', 'certificateVerify', 'serverFinished']) {
      t.update(bytes(m, name));
    }
    expect(toHex(t.hash())).toBe(h.transcriptHashes.clientHelloToServerFinished);
    t.update(bytes(m, 'clientFinished'));
    expect(toHex(t.hash())).toBe(h.transcriptHashes.clientHelloToClientFinished);
  });

  it('a stateless server rebuilding from Hash(ClientHello1) gets the same transcript', () => {
    const ch1Hash = provider.hash('SHA-256').digest(bytes(m, 'clientHello1'));
    const t = Transcript.fromMessageHash(provider, 'SHA-256', ch1Hash);
    t.update(concat(bytes(m, 'helloRetryRequest'), bytes(m, 'clientHello'), bytes(m, 'serverHello')));
    expect(toHex(t.hash())).toBe(h.transcriptHashes.clientHelloToServerHello);
  });

  it('only ClientHello1 can be replaced, and only once the hash is known', () => {
    expect(() => Transcript.buffered().update(bytes(m, 'clientHello1')).replaceWithMessageHash()).toThrow(ConfigError);
    const two = new Transcript(provider, 'SHA-256').update(bytes(m, 'clientHello1')).update(bytes(m, 'helloRetryRequest'));
    expect(() => two.replaceWithMessageHash()).toThrow(/ClientHello1 only/);
  });
});
