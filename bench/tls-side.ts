/**
 * One side of a TLS benchmark run in its own process, so that its CPU is its
 * own: pqtls through the Node adapter (`--stack pqtls`: node:crypto provider,
 * native ML-KEM/ML-DSA where the runtime has them; `--stack pqtls-noble`:
 * pure TypeScript). bench/tls-side-node.ts is the same for node:tls; the
 * protocol between them and bench/tls-native.ts is in that file's comment.
 *
 * `--lib DIR` loads pqtls from DIR: bench/tls-native.ts passes the compiled
 * package (`dist/`, what users run); without it the TypeScript sources (`src/`,
 * through tsx, whose keep-names transform adds a call per closure created).
 *
 *   node --import tsx bench/tls-side.ts server --stack S --dir PEMDIR --mode handshake|bulk|download
 *   node --import tsx bench/tls-side.ts client --stack S --dir PEMDIR --port P --mode handshake --count N --inflight K
 *   node --import tsx bench/tls-side.ts client --stack S --dir PEMDIR --port P --mode bulk --bytes B
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { PqTlsSocket } from '../src/node/index.js';
import type { CryptoProvider } from '../src/pq/provider.js';
import { sideLoop, type SideArgs } from './tls-side-loop.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    stack: { type: 'string' }, dir: { type: 'string' }, port: { type: 'string' }, mode: { type: 'string' },
    count: { type: 'string' }, inflight: { type: 'string' }, bytes: { type: 'string' }, warmup: { type: 'string' },
    lib: { type: 'string' },
  },
});
const lib = values.lib ?? fileURLToPath(new URL('../src', import.meta.url));
const load = <T>(path: string): Promise<T> => import(pathToFileURL(join(lib, path)).href) as Promise<T>;
const { connect, createNodeCryptoProvider, createServer } = await load<typeof import('../src/node/index.js')>('node/index.js');
const { createNobleProvider } = await load<typeof import('../src/pq/index.js')>('pq/index.js');
const { CipherSuite } = await load<typeof import('../src/tls13/cipher-suites.js')>('tls13/cipher-suites.js');
const { loadCertifiedKey, pemCertificates } = await load<typeof import('../src/tls13/credentials.js')>('tls13/credentials.js');
const { webPkiVerifier } = await load<typeof import('../src/tls13/verifier.js')>('tls13/verifier.js');
const dir = values.dir ?? '';
const provider: CryptoProvider = values.stack === 'pqtls-noble' ? createNobleProvider() : createNodeCryptoProvider();
const GROUP = 'X25519MLKEM768';
const suites = [CipherSuite.TLS_AES_128_GCM_SHA256];

const args: SideArgs<PqTlsSocket> = {
  role: positionals[0] === 'client' ? 'client' : 'server',
  mode: values.mode === 'bulk' || values.mode === 'download' ? values.mode : 'handshake',
  port: Number(values.port ?? 0),
  count: Number(values.count ?? 100),
  inflight: Number(values.inflight ?? 1),
  bytes: Number(values.bytes ?? 64 * 2 ** 20),
  warmUp: Number(values.warmup ?? 0),
  async listen(onSocket) {
    const certificate = await loadCertifiedKey(provider, readFileSync(join(dir, 'chain.pem'), 'utf8'), readFileSync(join(dir, 'key.pem'), 'utf8'));
    const server = createServer({ provider, certificate, groups: [GROUP], cipherSuites: suites }, onSocket);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  },
  connect: (() => {
    const verifier = webPkiVerifier({ provider, trustAnchors: pemCertificates(readFileSync(join(dir, 'root.pem'), 'utf8')) });
    return (port: number) => connect({
      host: '127.0.0.1', port, provider, serverName: 'localhost', verifier, groups: [GROUP], keyShareGroups: [GROUP], cipherSuites: suites,
    });
  })(),
};
await sideLoop(args);
