// Full TLS 1.3 handshakes with node:tls over loopback TCP, server and client in
// this one process, for comparison with pqtls. Run under Node 24 (OpenSSL 3.5):
//
//   node24 bench/node24-tls-handshake.mjs <dir with root.pem, chain.pem, key.pem> <handshakes> <warm-up>
//
// Prints one JSON line: { handshakes, seconds, handshakesPerSecond, cpuMsPerHandshake, group, ... }.
// Sessions are never offered back, so every handshake is a full one; the
// client validates the chain against root.pem and the name "localhost".
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';

const [dir, countArg, warmArg] = process.argv.slice(2);
if (!dir) throw new Error('usage: node24-tls-handshake.mjs <pem dir> <handshakes> <warm-up>');
const count = Number(countArg ?? 100);
const warmUp = Number(warmArg ?? 10);
const root = readFileSync(join(dir, 'root.pem'));
const group = 'X25519MLKEM768';
// The suite pqtls prefers, so both stacks do the same record work.
const ciphers = 'TLS_AES_128_GCM_SHA256';

const server = tls.createServer({
  key: readFileSync(join(dir, 'key.pem')),
  cert: readFileSync(join(dir, 'chain.pem')),
  minVersion: 'TLSv1.3',
  ecdhCurve: group,
  ciphers,
}, (socket) => {
  socket.on('error', () => {});
  socket.end();
  serverSide?.();
});
let serverSide;
server.on('tlsClientError', (err) => { throw err; });
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();

// One handshake: resolves once both ends have completed it.
function handshake() {
  const served = new Promise((resolve) => { serverSide = resolve; });
  const connected = new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1', port, servername: 'localhost', ca: root, minVersion: 'TLSv1.3', ecdhCurve: group, ciphers,
    }, () => {
      resolve({ socket, protocol: socket.getProtocol(), group: socket.getEphemeralKeyInfo()?.name, cipher: socket.getCipher()?.standardName });
    });
    socket.once('error', reject);
  });
  // The client closes only after the server has read its Finished.
  return Promise.all([connected, served]).then(([{ socket, ...info }]) => {
    socket.destroy();
    return info;
  });
}

for (let i = 0; i < warmUp; i++) await handshake();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let info;
for (let i = 0; i < count; i++) info = await handshake();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
server.close();
process.stdout.write(`${JSON.stringify({
  node: process.versions.node,
  openssl: process.versions.openssl,
  ...info,
  handshakes: count,
  seconds,
  handshakesPerSecond: count / seconds,
  cpuMsPerHandshake: (cpu.user + cpu.system) / 1000 / count,
})}\n`);
