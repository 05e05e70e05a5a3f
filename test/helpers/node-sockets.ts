import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createNodeCryptoProvider, createServer, type PqTlsSocket } from '../../src/node/index.js';
import { seededRandom } from '../../src/testing/index.js';
import { clock, pinnedKeyVerifier, testKey } from './tls-pair.js';

/** The parts of net.Socket PqTlsSocket uses, as a plain emitter (not a net.Socket); writes are collected. */
export class FakeSocket extends EventEmitter {
  readonly written: Uint8Array[] = [];
  destroyed = false;
  writableNeedDrain = false;
  write(d: Uint8Array): boolean {
    this.written.push(d);
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  pause(): void {}
  resume(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

/** A pqtls server on loopback TCP and a client connected to it (node:crypto provider, seeded): both ends and the server. */
export async function tcpPair(seed: string) {
  const provider = createNodeCryptoProvider({ random: seededRandom(seed) });
  const key = await testKey(provider, 'ed25519');
  let accepted: (s: PqTlsSocket) => void = () => undefined;
  const serverSocket = new Promise<PqTlsSocket>((r) => (accepted = r));
  const server = createServer({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, (s) => accepted(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const sock = await connect({ host: '127.0.0.1', port, provider, now: clock, verifier: pinnedKeyVerifier(key) });
  return { server, sock, peer: await serverSocket };
}
