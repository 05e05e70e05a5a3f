/**
 * The node:tls side of bench/tls-native.ts (run under Node 24: OpenSSL 3.5,
 * X25519MLKEM768 and ML-DSA), with the same loops and line protocol as the
 * pqtls side (bench/tls-side-loop.ts). Same certificates, group and suite.
 *
 *   node24 --import tsx bench/tls-side-node.ts server|client --dir PEMDIR [--port P] --mode handshake|bulk|download [...]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { sideLoop } from './tls-side-loop.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    stack: { type: 'string' }, dir: { type: 'string' }, port: { type: 'string' }, mode: { type: 'string' },
    count: { type: 'string' }, inflight: { type: 'string' }, bytes: { type: 'string' }, warmup: { type: 'string' },
    lib: { type: 'string' },
  },
});
const dir = values.dir ?? '';
const common = { minVersion: 'TLSv1.3', ecdhCurve: 'X25519MLKEM768', ciphers: 'TLS_AES_128_GCM_SHA256' } as const;

await sideLoop<tls.TLSSocket>({
  role: positionals[0] === 'client' ? 'client' : 'server',
  mode: values.mode === 'bulk' || values.mode === 'download' ? values.mode : 'handshake',
  port: Number(values.port ?? 0),
  count: Number(values.count ?? 100),
  inflight: Number(values.inflight ?? 1),
  bytes: Number(values.bytes ?? 64 * 2 ** 20),
  warmUp: Number(values.warmup ?? 0),
  async listen(onSocket) {
    const server = tls.createServer({ ...common, key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'chain.pem')) }, onSocket);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  },
  connect: (() => {
    const ca = readFileSync(join(dir, 'root.pem'));
    return (port: number) => new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ ...common, host: '127.0.0.1', port, servername: 'localhost', ca }, () => resolve(s));
      s.once('error', reject);
    });
  })(),
});
