/**
 * Builds test/hw/libquac100-double.c — a libquac100.so computed by OpenSSL
 * 3.5 — and says how to run a Node that can load it.
 *
 * The OpenSSL 3.5 is the interop peers' (Debian trixie's libcrypto and
 * headers, unpacked into `<peers>/trixie` by scripts/install-peers.sh). That
 * libcrypto needs glibc 2.38 and Debian 12 has 2.36, so a Node on the host's
 * loader cannot dlopen the double ("GLIBC_2.38 not found"). What works is
 * what the peers' own wrappers do: start the program — here the very Node
 * binary running the tests — through trixie's ld-linux with trixie's library
 * directory, which brings trixie's glibc (a newer glibc runs the host's Node
 * and koffi unchanged). Inside that process a second trap waits: Node's binary
 * exports the symbols of its bundled OpenSSL 3.0, which would win over
 * libcrypto's for the double's EVP_* calls (ML-KEM then "does not exist");
 * NativeQuac100 loads with RTLD_DEEPBIND by default, so the double binds to
 * the libcrypto it was linked with. (The node24 peer shares the host's glibc,
 * so it cannot load trixie's libcrypto either.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peersDir, repoRoot } from '../helpers/peer-install.js';

export const doubleSource: string = join(repoRoot, 'test', 'hw', 'libquac100-double.c');

/** Debian's multiarch triplet, where trixie keeps its libraries and opensslconf.h. */
function multiarch(): string {
  try {
    return execFileSync('gcc', ['-print-multiarch'], { encoding: 'utf8' }).trim() || 'x86_64-linux-gnu';
  } catch (e) {
    throw new Error(`gcc is needed to build the QUAC 100 test double (apt-get install gcc): ${e instanceof Error ? e.message : String(e)}`);
  }
}

export interface TrixieTree {
  readonly include: readonly string[];
  readonly libDir: string;
  readonly loader: string;
}

/** Where the peers keep trixie's OpenSSL 3.5 headers, libcrypto and loader; throws naming what is missing. */
export function trixieTree(): TrixieTree {
  const root = join(peersDir, 'trixie');
  const arch = multiarch();
  const tree = {
    include: [join(root, 'usr', 'include'), join(root, 'usr', 'include', arch)],
    libDir: join(root, 'usr', 'lib', arch),
    loader: join(root, 'usr', 'lib', arch, 'ld-linux-x86-64.so.2'),
  };
  for (const p of [join(tree.include[0] ?? '', 'openssl', 'evp.h'), join(tree.libDir, 'libcrypto.so'), tree.loader]) {
    if (!existsSync(p)) {
      throw new Error(`${p} is missing: the interop peers 'openssl' and 'openssl-quic-server' (libssl-dev) provide it (bash scripts/install-peers.sh)`);
    }
  }
  return tree;
}

/** Compiles the double into a fresh temporary directory; returns the path of its libquac100.so. */
export function buildDouble(tree: TrixieTree): string {
  const dir = mkdtempSync(join(tmpdir(), 'pqtls-quac100-'));
  const out = join(dir, 'libquac100.so');
  try {
    execFileSync(
      'gcc',
      [
        '-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror',
        ...tree.include.map((d) => `-I${d}`),
        '-o', out, doubleSource,
        `-L${tree.libDir}`, '-lcrypto', `-Wl,-rpath,${tree.libDir}`, '-lpthread',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
    );
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return out;
}

/** argv that runs this Node binary under trixie's glibc: `<loader> --library-path <lib> <node> ...args`. */
export function trixieNode(tree: TrixieTree, args: readonly string[]): { command: string; args: string[] } {
  return { command: tree.loader, args: ['--inhibit-cache', '--library-path', tree.libDir, process.execPath, ...args] };
}
