/**
 * Speaking TLS as a misbehaving peer: a connected pair whose application
 * traffic secrets are taken from the key log, so a test or a benchmark can
 * seal any record either side could send. Used by the hardening tests and by
 * `bench/adversarial.ts`.
 */
import { fromHex } from '../../src/bytes.js';
import type { CryptoProvider } from '../../src/pq/provider.js';
import { cipherSuiteInfo, CipherSuite, type CipherSuiteInfo } from '../../src/tls13/cipher-suites.js';
import type { ClientOptions } from '../../src/tls13/config.js';
import { TlsConnection, type ConnectionLimits } from '../../src/tls13/connection.js';
import { RecordProtector } from '../../src/tls13/record-protection.js';
import { clock, drain, pinnedKeyVerifier, pump, seededProvider, testKey, type TestKey } from './tls-pair.js';

export const ATTACK_SUITE = CipherSuite.TLS_AES_128_GCM_SHA256;

export async function keyed(seed: string): Promise<{ provider: CryptoProvider; key: TestKey }> {
  const provider = seededProvider(seed);
  return { provider, key: await testKey(provider, 'ed25519') };
}

/** A keyLog that keeps the secrets (NSS key log format: label, client random, secret). */
export function keyLogSecrets(): { log: (line: string) => void; get: (label: string) => Uint8Array } {
  const lines = new Map<string, Uint8Array>();
  return {
    log: (line) => {
      const [label, , hex] = line.split(' ');
      if (label && hex) lines.set(label, fromHex(hex));
    },
    get: (label) => {
      const secret = lines.get(label);
      if (!secret) throw new Error(`no ${label} in the key log`);
      return secret;
    },
  };
}

/** A connected pair plus record protectors that seal as the client and as the server under the application keys. */
export async function connectedWithPeerKeys(seed: string, limits: ConnectionLimits = {}, clientExtra: Partial<ClientOptions> = {}) {
  const { provider, key } = await keyed(seed);
  const keys = keyLogSecrets();
  const server = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key }, cipherSuites: [ATTACK_SUITE] }, limits);
  const client = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key), keyLog: keys.log, ...clientExtra }, limits);
  await pump(client, server);
  if (!client.handshakeInfo || !server.handshakeInfo) throw new Error('the handshake did not complete');
  drain(client);
  drain(server);
  const suite = cipherSuiteInfo(ATTACK_SUITE) as CipherSuiteInfo;
  // Neither side has sent anything under its application key yet (no tickets: the server has no sealer).
  const asClient = await RecordProtector.create(provider, suite, keys.get('CLIENT_TRAFFIC_SECRET_0'));
  const asServer = await RecordProtector.create(provider, suite, keys.get('SERVER_TRAFFIC_SECRET_0'));
  return { provider, key, client, server, asClient, asServer };
}
