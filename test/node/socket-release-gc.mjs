// Run by socket-release.test.ts as `node --expose-gc --import tsx` (a GC on demand needs the flag, which vitest's workers lack).
import { createServer as netServer, connect as netConnect } from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import { PqTlsSocket } from '../../src/node/index.ts';
import { TlsConnection } from '../../src/tls13/connection.ts';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.ts';

const provider = seededProvider('socket-release');
const key = await testKey(provider, 'ml-dsa-65');
const serverOptions = { provider, now: clock, certificate: { chain: [key.publicKey], ...key } };
const ROUNDS = 20;
// What the application keeps: every PqTlsSocket, destroyed, for as long as the test runs.
const kept = [];
const connections = [];
const server = netServer({ allowHalfOpen: true }, (sock) => {
  const conn = TlsConnection.server(serverOptions);
  connections.push(new WeakRef(conn));
  const s = new PqTlsSocket(conn, sock, 'server');
  kept.push(s);
  s.on('error', () => undefined);
  s.once('secure', () => s.end());
  s.resume();
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address();
async function handshake() {
  const sock = netConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await new Promise((r, j) => sock.once('connect', r).once('error', j));
  const conn = await TlsConnection.client({ provider, now: clock, verifier: pinnedKeyVerifier(key) });
  connections.push(new WeakRef(conn));
  const c = new PqTlsSocket(conn, sock, 'client');
  kept.push(c);
  c.on('error', () => undefined);
  c.resume();
  await new Promise((r) => c.once('end', r));
  c.end();
}
for (let i = 0; i < ROUNDS; i++) await handshake();
// Every socket, both sides, has closed.
for (let i = 0; i < 100 && !kept.every((s) => s.destroyed && s.closed); i++) await new Promise((r) => setTimeout(r, 10));
server.close();
for (let i = 0; i < 5; i++) {
  globalThis.gc();
  await tick();
}
console.log(JSON.stringify({ sockets: kept.length, closed: kept.filter((s) => s.destroyed && s.closed).length, connectionsAlive: connections.filter((r) => r.deref()).length }));
