/**
 * Certificates for interop tests, made by the OpenSSL 3.5 peer in a directory
 * the caller owns: an ML-DSA-65 CA and a leaf for `localhost` / 127.0.0.1
 * (the PQ chain), and a self-signed P-256 certificate for the peers that know
 * no ML-DSA (ngtcp2/GnuTLS, quiche/BoringSSL).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPeer, type PeerExit } from './peers.js';

export interface TestPki {
  readonly dir: string;
  /** ML-DSA-65 self-signed CA certificate (PEM). */
  readonly caCert: string;
  /** ML-DSA-65 leaf certificate for localhost, 127.0.0.1 (PEM), signed by the CA. */
  readonly leafCert: string;
  /** The leaf's PKCS #8 private key (PEM, seed and expanded form, as OpenSSL writes it). */
  readonly leafKey: string;
  /** Self-signed ECDSA P-256 certificate for localhost, 127.0.0.1, and its key (PEM). */
  readonly ecCert: string;
  readonly ecKey: string;
}

async function openssl(dir: string, args: readonly string[]): Promise<PeerExit> {
  const r = await runPeer('openssl', args, { cwd: dir, timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r;
}

/** Writes the test PKI into `dir` (which must exist) with the openssl peer. */
export async function createTestPki(dir: string): Promise<TestPki> {
  const f = (name: string): string => join(dir, name);
  const san = 'subjectAltName=DNS:localhost,IP:127.0.0.1';
  await openssl(dir, [
    'req', '-x509', '-newkey', 'ml-dsa-65', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-nodes', '-days', '2',
    '-subj', '/CN=pqtls test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
  ]);
  await openssl(dir, [
    'req', '-new', '-newkey', 'ml-dsa-65', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-nodes', '-subj', '/CN=localhost',
  ]);
  writeFileSync(f('leaf.ext'), `${san}\nextendedKeyUsage=serverAuth\n`);
  await openssl(dir, [
    'x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2',
    '-extfile', f('leaf.ext'), '-out', f('leaf.pem'),
  ]);
  await openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', f('ec.key'), '-out', f('ec.pem'),
    '-nodes', '-days', '2', '-subj', '/CN=localhost', '-addext', san,
  ]);
  return { dir, caCert: f('ca.pem'), leafCert: f('leaf.pem'), leafKey: f('leaf.key'), ecCert: f('ec.pem'), ecKey: f('ec.key') };
}
