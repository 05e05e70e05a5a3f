/**
 * `pqtls cert`: mint a post-quantum test PKI (ca, intermediate, leaf), show
 * certificates, and check a chain with the library's own validator.
 *
 * Every issuing command writes into --out DIR:
 *   cert.pem   the new certificate
 *   key.pem    its PKCS #8 private key (ML-DSA in seed form unless --key-format says otherwise), mode 0600
 *   chain.pem  the certificate followed by the intermediates above it (root excluded): what a server sends
 *   root.pem   the trust anchor the chain leads to (for --CAfile / trustAnchors)
 * With --key/--new-key quac:LABEL the key is on a QUAC 100 card instead: no
 * key.pem, but key.quac naming the card key (so --ca DIR finds it there).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, PqtlsError } from '../errors.js';
import { createNobleProvider } from '../pq/index.js';
import type { KeyAlgorithm } from '../pq/ids.js';
import type { CryptoProvider, KeyPair } from '../pq/provider.js';
import {
  CA_KEY_ALGORITHMS, CA_ONLY_KEY_ALGORITHMS, certificateToPem, chainToPem, exportPrivateKeyPem, formatCertificate, generateRoot, importPrivateKeyPem,
  isSelfIssued, issueIntermediate, issueLeaf, parsePemChain, verifyChain, type Certificate, type IssuedCertificate,
  type IssuerCredentials, type KeyPurpose, type MlDsaKeyFormat,
} from '../x509/index.js';
import { DEFAULT_CSR_LIMITS, certificationRequestToPem, createCertificationRequest, issueLeafFromRequest } from '../x509/csr.js';
import { UsageError, type CliCommand, type CliIo } from './command.js';
import { equalBytes } from '../bytes.js';
import type { QuacProvider } from '../hw/quac100/provider.js';
import { openQuacCard, quacHelp, quacLabel, quacOptions } from './quac-card.js';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Sub {
  readonly summary: string;
  readonly usage: string;
  readonly options: Options;
  /** `card`: the QUAC provider when --quac is given (then also `provider`), for quac:LABEL keys. */
  run(values: Values, positionals: string[], io: CliIo, provider: CryptoProvider, card: QuacProvider | undefined): Promise<number>;
}
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

const ALGS = CA_KEY_ALGORITHMS.join(', ');
const CA_ALGS = CA_ONLY_KEY_ALGORITHMS.join(', ');
const help = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;
const issueOptions = {
  ...help,
  alg: { type: 'string' },
  subject: { type: 'string' },
  out: { type: 'string' },
  days: { type: 'string' },
  'not-before': { type: 'string' },
  'key-format': { type: 'string' },
  force: { type: 'boolean' },
  key: { type: 'string' },
  'new-key': { type: 'string' },
  ...quacOptions,
} as const satisfies Options;

const issueHelp = `
  --alg ALG            key algorithm: ${ALGS} (default ml-dsa-65);
                       for ca and intermediate also SLH-DSA (FIPS 205, certificates only): ${CA_ALGS}
  --out DIR            directory for cert.pem, key.pem, chain.pem, root.pem (created if missing)
  --days N             validity in days from --not-before
  --not-before TIME    ISO 8601 start of validity (default: now)
  --key-format F       ML-DSA private key form: seed (default, RFC 9881 recommended), expanded, both
  --force              overwrite existing files in DIR
  --key quac:LABEL     use the ML-DSA key LABEL on the QUAC card (needs --quac): signing happens on
                       the card, no key.pem is written (key.quac names the card key instead)
  --new-key quac:LABEL generate the --alg ML-DSA key on the card under LABEL (non-extractable)${quacHelp}
  -h, --help           this help`;

const subs: Record<string, Sub> = {
  ca: {
    summary: 'create a self-signed root CA',
    usage: `usage: pqtls cert ca --subject DN --out DIR [options]

Creates a self-signed root: basicConstraints CA (critical), keyUsage keyCertSign+cRLSign.

  --subject DN         e.g. "CN=PQ test root,O=Example" (RFC 4514) or "/O=Example/CN=PQ test root"
  --path-len N         basicConstraints pathLenConstraint${issueHelp.replace('validity in days from --not-before', 'validity in days from --not-before (default 3650)')}
`,
    options: { ...issueOptions, 'path-len': { type: 'string' } },
    async run(v, _p, io, provider, card) {
      const validity = validityOf(v, io, 3650);
      const onCard = await cardKey(v, card, true);
      const issued = await generateRoot({
        provider, algorithm: algOf(v, true), subject: required(v, 'subject'), ...validity, ...pathLenOf(v), ...(onCard && { keyPair: onCard.keyPair }),
      });
      return write(v, io, provider, onCard ? { certificate: issued.certificate } : issued, [], issued.certificate, onCard?.label);
    },
  },
  intermediate: {
    summary: 'create an intermediate CA signed by --ca DIR',
    usage: `usage: pqtls cert intermediate --ca DIR --subject DN --out DIR [options]

Creates an intermediate CA signed by the CA in DIR (its cert.pem and key.pem).

  --ca DIR             the issuing CA's directory (from \`pqtls cert ca\` or \`intermediate\`)
  --subject DN         e.g. "CN=PQ test intermediate"
  --path-len N         basicConstraints pathLenConstraint${issueHelp.replace('validity in days from --not-before', 'validity in days from --not-before (default 1825)')}
`,
    options: { ...issueOptions, ca: { type: 'string' }, 'path-len': { type: 'string' } },
    async run(v, _p, io, provider, card) {
      const ca = await loadCa(required(v, 'ca'), provider, card);
      const onCard = await cardKey(v, card, true);
      const issued = await issueIntermediate({
        provider, issuer: ca.credentials, algorithm: algOf(v, true), subject: required(v, 'subject'), ...validityOf(v, io, 1825), ...pathLenOf(v),
        ...(onCard && { keyPair: onCard.keyPair }),
      });
      return write(v, io, provider, onCard ? { certificate: issued.certificate } : issued, ca.chain, ca.root, onCard?.label);
    },
  },
  leaf: {
    summary: 'create an end-entity (server or client) certificate signed by --ca DIR',
    usage: `usage: pqtls cert leaf --ca DIR (--dns NAME | --ip ADDR)... --out DIR [options]
       pqtls cert leaf --ca DIR --csr FILE --out DIR [options]

Creates an end-entity certificate: basicConstraints CA:FALSE, keyUsage digitalSignature,
extendedKeyUsage serverAuth (or as --eku says), subjectAltName from --dns and --ip.

With --csr, certifies the key of a PKCS #10 request instead of generating one (no key.pem
is written): the request's signature must verify with its own key (proof of possession),
and only its subject and DNS/IP subjectAltNames are taken from it (--dns/--ip add names,
--subject replaces the subject); whatever else it asks for (CA, key usage) is not granted,
and a critical extension this CA does not understand makes it refuse the request.

  --ca DIR             the issuing CA's directory
  --csr FILE           PEM or DER certification request to issue from
  --dns NAME           DNS subjectAltName (repeatable); "*.example.com" for a wildcard
  --ip ADDR            IP-address subjectAltName, IPv4 or IPv6 (repeatable)
  --subject DN         default "CN=<first --dns or --ip>"
  --eku PURPOSE        serverAuth or clientAuth (repeatable; default serverAuth)${issueHelp.replace('validity in days from --not-before', 'validity in days from --not-before (default 365)')}
`,
    options: {
      ...issueOptions, ca: { type: 'string' }, dns: { type: 'string', multiple: true }, ip: { type: 'string', multiple: true },
      eku: { type: 'string', multiple: true }, csr: { type: 'string' },
    },
    async run(v, _p, io, provider, card) {
      const ca = await loadCa(required(v, 'ca'), provider, card);
      const dns = strings(v['dns']);
      const ip = strings(v['ip']);
      const eku = strings(v['eku']).map((e): KeyPurpose => {
        if (e !== 'serverAuth' && e !== 'clientAuth') throw new UsageError(`--eku must be serverAuth or clientAuth, not "${e}"`);
        return e;
      });
      const subject = typeof v['subject'] === 'string' ? { subject: v['subject'] } : {};
      if (typeof v['csr'] === 'string') {
        for (const flag of ['alg', 'key-format', 'key', 'new-key']) if (v[flag] !== undefined) throw new UsageError(`--${flag} does not apply with --csr (the key is the request's)`);
        const certificate = await issueLeafFromRequest({
          provider, issuer: ca.credentials, request: readRequest(v['csr']), dns, ip, ...subject, ...(eku.length && { extKeyUsage: eku }),
          ...validityOf(v, io, 365),
        });
        return write(v, io, provider, { certificate }, ca.chain, ca.root);
      }
      if (dns.length + ip.length === 0) throw new UsageError('a leaf needs at least one --dns or --ip');
      const onCard = await cardKey(v, card, false);
      const issued = await issueLeaf({
        provider, issuer: ca.credentials, algorithm: algOf(v, false), dns, ip, ...subject, ...(eku.length && { extKeyUsage: eku }),
        ...validityOf(v, io, 365), ...(onCard && { keyPair: onCard.keyPair }),
      });
      return write(v, io, provider, onCard ? { certificate: issued.certificate } : issued, ca.chain, ca.root, onCard?.label);
    },
  },
  csr: {
    summary: 'write a PKCS #10 certification request for a key (to have it certified by a CA)',
    usage: `usage: pqtls cert csr (--key FILE | --new-key FILE) (--subject DN | --dns NAME | --ip ADDR)... [--out FILE] [options]

Writes a PKCS #10 certification request (PEM), signed with the key it asks to have certified;
the DNS names and IP addresses go into an extensionRequest subjectAltName. A CA issues from it
with \`pqtls cert leaf --csr FILE\` or \`openssl x509 -req\`.

  --key FILE           the PKCS #8 private key to certify (PEM); quac:LABEL for a key on the card
  --new-key FILE       generate a new key of --alg and write it to FILE (mode 0600); quac:LABEL
                       generates it on the card instead (ML-DSA, non-extractable, no file written)
  --alg ALG            key algorithm for --new-key: ${ALGS} (default ml-dsa-65)
  --key-format F       ML-DSA form of the --new-key file: seed (default), expanded, both
  --subject DN         e.g. "CN=www.example.com,O=Example"; default "CN=<first --dns or --ip>"
  --dns NAME           DNS subjectAltName to ask for (repeatable)
  --ip ADDR            IP-address subjectAltName to ask for (repeatable)
  --out FILE           where to write the request (default: standard output)
  --force              overwrite existing files${quacHelp}
  -h, --help           this help
`,
    options: {
      ...help, key: { type: 'string' }, 'new-key': { type: 'string' }, alg: { type: 'string' }, 'key-format': { type: 'string' },
      subject: { type: 'string' }, dns: { type: 'string', multiple: true }, ip: { type: 'string', multiple: true }, out: { type: 'string' },
      force: { type: 'boolean' }, ...quacOptions,
    },
    async run(v, _p, io, provider, card) {
      const dns = strings(v['dns']);
      const ip = strings(v['ip']);
      const first = dns[0] ?? ip[0];
      const subject = typeof v['subject'] === 'string' ? v['subject'] : first !== undefined ? `CN=${first}` : undefined;
      if (subject === undefined) throw new UsageError('a request needs --subject or at least one --dns or --ip');
      const keyFile = v['key'];
      const newKey = v['new-key'];
      if ((typeof keyFile === 'string') === (typeof newKey === 'string')) throw new UsageError('give exactly one of --key FILE and --new-key FILE');
      const out = typeof v['out'] === 'string' ? v['out'] : undefined;
      const newKeyFile = typeof newKey === 'string' && quacLabel(newKey) === undefined ? newKey : undefined;
      for (const f of [newKeyFile, out]) {
        if (typeof f === 'string' && existsSync(f) && !v['force']) throw new UsageError(`${f} already exists (use --force to overwrite)`);
      }
      const onCard = await cardKey(v, card, false, true);
      let keyPair: KeyPair;
      if (onCard) {
        keyPair = onCard.keyPair;
      } else if (typeof newKey === 'string') {
        keyPair = await provider.generateKeyPair(algOf(v, false));
        writeFileSync(newKey, await exportPrivateKeyPem(provider, keyPair.privateKey, { mlDsaFormat: keyFormatOf(v) }), { mode: 0o600 });
      } else {
        if (v['alg'] !== undefined) throw new UsageError('--alg applies only to --new-key (the key file says its algorithm)');
        keyPair = await importPrivateKeyPem(provider, readFileSync(keyFile as string, 'utf8'));
      }
      const pem = certificationRequestToPem(await createCertificationRequest({
        provider, keyPair, subject, dns, ip,
      }));
      if (out === undefined) {
        io.out(pem);
      } else {
        writeFileSync(out, pem);
        io.out(`${onCard?.created ? `made ${onCard.keyPair.privateKey.algorithm} key quac:${onCard.label} on the card\n` : ''}`
          + `wrote ${[...(typeof newKey === 'string' && !onCard ? [newKey] : []), out].join(', ')}\n`);
      }
      return 0;
    },
  },
  show: {
    summary: 'print a summary of each certificate in a PEM file',
    usage: `usage: pqtls cert show FILE...

Prints subject, issuer, algorithms, validity and names of every certificate in each PEM file.

  -h, --help           this help
`,
    options: help,
    async run(_v, positionals, io) {
      if (positionals.length === 0) throw new UsageError('name at least one PEM file');
      const blocks: string[] = [];
      for (const file of positionals) {
        for (const [i, c] of parsePemChain(readFileSync(file, 'utf8')).entries()) blocks.push(`${file} [${i}]\n${indent(formatCertificate(c))}`);
      }
      io.out(`${blocks.join('\n\n')}\n`);
      return 0;
    },
  },
  verify: {
    summary: 'validate a certificate chain with the pqtls validator',
    usage: `usage: pqtls cert verify --ca ROOTS.pem [--untrusted CHAIN.pem] [--host NAME] [--ip ADDR] CERT.pem

Validates the first certificate of CERT.pem (other certificates in it count as intermediates) up to
a root in ROOTS.pem at the current time (or --at TIME), and prints the path.

  --ca FILE            PEM file of trust anchors
  --untrusted FILE     PEM file of intermediates (repeatable)
  --host NAME          host name (or IP literal) the leaf must be valid for
  --ip ADDR            IP address the leaf must be valid for
  --purpose P          serverAuth (default) or clientAuth
  --at TIME            ISO 8601 time to validate at (default: now)
  -h, --help           this help
`,
    options: {
      ...help, ca: { type: 'string' }, untrusted: { type: 'string', multiple: true }, host: { type: 'string' },
      ip: { type: 'string' }, purpose: { type: 'string' }, at: { type: 'string' },
    },
    async run(v, positionals, io, provider) {
      const [file] = positionals;
      if (file === undefined || positionals.length > 1) throw new UsageError('name exactly one certificate file');
      const [leaf, ...rest] = parsePemChain(readFileSync(file, 'utf8'));
      const intermediates = [...rest, ...strings(v['untrusted']).flatMap((f) => parsePemChain(readFileSync(f, 'utf8')))];
      const trustAnchors = parsePemChain(readFileSync(required(v, 'ca'), 'utf8'));
      const purpose = (v['purpose'] as string | undefined) ?? 'serverAuth';
      if (purpose !== 'serverAuth' && purpose !== 'clientAuth') throw new UsageError('--purpose must be serverAuth or clientAuth');
      const now = typeof v['at'] === 'string' ? dateOf(v['at'], '--at') : io.now();
      const result = await verifyChain({
        provider, leaf: leaf as Certificate, intermediates, trustAnchors, now, purpose,
        ...(typeof v['host'] === 'string' && { hostname: v['host'] }), ...(typeof v['ip'] === 'string' && { ip: v['ip'] }),
      });
      io.out(`${file}: OK\n${result.path.map((c, i) => `  ${i}: ${c.subject.text || '(empty subject)'}`).join('\n')}\n`);
      return 0;
    },
  },
};

function certUsage(): string {
  const width = Math.max(...Object.keys(subs).map((k) => k.length));
  return [
    'usage: pqtls cert <ca|intermediate|leaf|csr|show|verify> [options]',
    '',
    ...Object.entries(subs).map(([n, s]) => `  ${n.padEnd(width)}  ${s.summary}`),
    '',
    'Files written by ca, intermediate and leaf into --out DIR:',
    '  cert.pem   the certificate',
    '  key.pem    its PKCS #8 private key (mode 0600)',
    '  chain.pem  the certificate and the intermediates above it (what a server sends)',
    '  root.pem   the root it chains to (the trust anchor)',
    '(leaf --csr and a card key write no key.pem: the key stays with whoever made the request, or on the card)',
    '',
    'Example:',
    '  pqtls cert ca --alg ml-dsa-65 --subject "CN=PQ root" --out pki/root',
    '  pqtls cert intermediate --ca pki/root --alg ml-dsa-65 --subject "CN=PQ intermediate" --out pki/int',
    '  pqtls cert leaf --ca pki/int --alg ml-dsa-65 --dns localhost --ip 127.0.0.1 --out pki/server',
    '  pqtls cert csr --new-key web.key --alg ml-dsa-44 --dns www.example.com --out web.csr',
    '  pqtls cert leaf --ca pki/int --csr web.csr --out pki/web',
    '',
    'Keys on a QUAC 100 card (--quac emulated|native; never written out, key.quac names them):',
    '  pqtls cert ca --quac emulated --quac-state card.json --new-key quac:root --subject "CN=PQ root" --out pki/root',
    '  pqtls cert leaf --quac emulated --quac-state card.json --ca pki/root --new-key quac:web --dns localhost --out pki/web',
    '',
  ].join('\n');
}

/** `pqtls cert ...` */
export const certCommand: CliCommand = {
  summary: 'mint and check X.509 certificates (ML-DSA, SLH-DSA CAs, Ed25519, ECDSA): ca, intermediate, leaf, csr, show, verify',
  async run(argv, io) {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      io.out(certUsage());
      return name === undefined ? 2 : 0;
    }
    const sub = subs[name];
    if (!sub) {
      io.err(`pqtls cert: unknown subcommand "${name}"\n\n${certUsage()}`);
      return 2;
    }
    let values: Values;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({ args: [...rest], options: sub.options, allowPositionals: true, strict: true }));
    } catch (e) {
      io.err(`pqtls cert ${name}: ${e instanceof Error ? e.message : String(e)}\n\n${sub.usage}`);
      return 2;
    }
    if (values['help']) {
      io.out(sub.usage);
      return 0;
    }
    if (positionals.length && name !== 'show' && name !== 'verify') {
      io.err(`pqtls cert ${name}: unexpected argument "${positionals[0] ?? ''}"\n\n${sub.usage}`);
      return 2;
    }
    let card: QuacProvider | undefined;
    try {
      card = await openQuacCard(values);
      return await sub.run(values, positionals, io, card ?? createNobleProvider(), card);
    } catch (e) {
      if (e instanceof UsageError) {
        io.err(`pqtls cert ${name}: ${e.message}\n\n${sub.usage}`);
        return 2;
      }
      if (e instanceof PqtlsError || isFsError(e)) {
        io.err(`pqtls cert ${name}: ${e.message}\n`);
        return 1;
      }
      throw e;
    } finally {
      await card?.close();
    }
  },
};

function isFsError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

function strings(v: Values[string]): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

function required(v: Values, name: string): string {
  const x = v[name];
  if (typeof x !== 'string' || x.length === 0) throw new UsageError(`--${name} is required`);
  return x;
}

/** The --alg key algorithm; SLH-DSA only for a CA, since no TLS CertificateVerify scheme exists for it. */
function algOf(v: Values, forCa: boolean): KeyAlgorithm {
  const a = ((v['alg'] as string | undefined) ?? 'ml-dsa-65').toLowerCase();
  const alg = CA_KEY_ALGORITHMS.find((k) => k === a);
  if (alg) return alg;
  const caOnly = CA_ONLY_KEY_ALGORITHMS.find((k) => k === a);
  if (caOnly && forCa) return caOnly;
  if (caOnly) throw new UsageError(`--alg ${a} is for CA certificates only (TLS cannot sign a CertificateVerify with SLH-DSA); a leaf takes one of ${ALGS}`);
  throw new UsageError(`--alg must be one of ${ALGS}${forCa ? `, ${CA_ALGS}` : ''}, not "${v['alg'] as string}"`);
}

function intOf(text: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${flag} must be an integer in ${min}..${max}`);
  return Number(text);
}

function dateOf(text: string, flag: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag}: "${text}" is not an ISO 8601 time`);
  return d;
}

function validityOf(v: Values, io: CliIo, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const notBefore = typeof v['not-before'] === 'string' ? dateOf(v['not-before'], '--not-before') : io.now();
  const days = typeof v['days'] === 'string' ? intOf(v['days'], '--days', 1, 36500) : defaultDays;
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 86_400_000) };
}

function pathLenOf(v: Values): { pathLen?: number } {
  return typeof v['path-len'] === 'string' ? { pathLen: intOf(v['path-len'], '--path-len', 0, 255) } : {};
}

function keyFormatOf(v: Values): MlDsaKeyFormat {
  const f = (v['key-format'] as string | undefined) ?? 'seed';
  if (f !== 'seed' && f !== 'expanded' && f !== 'both') throw new UsageError('--key-format must be seed, expanded or both');
  return f;
}

interface LoadedCa {
  readonly credentials: IssuerCredentials;
  /** Intermediates from this CA up to (not including) the root, this CA first. */
  readonly chain: readonly Certificate[];
  readonly root: Certificate;
}

async function loadCa(dir: string, provider: CryptoProvider, card: QuacProvider | undefined): Promise<LoadedCa> {
  const [certificate] = parsePemChain(readFileSync(join(dir, 'cert.pem'), 'utf8'));
  const cert = certificate as Certificate;
  const keyPair = !existsSync(join(dir, 'key.pem')) && existsSync(join(dir, 'key.quac'))
    ? await caCardKey(dir, cert, card)
    : await importPrivateKeyPem(provider, readFileSync(join(dir, 'key.pem'), 'utf8'));
  if (isSelfIssued(cert)) return { credentials: { certificate: cert, privateKey: keyPair.privateKey }, chain: [], root: cert };
  const chain = parsePemChain(readFileSync(join(dir, 'chain.pem'), 'utf8'));
  const [root] = parsePemChain(readFileSync(join(dir, 'root.pem'), 'utf8'));
  return { credentials: { certificate: cert, privateKey: keyPair.privateKey }, chain, root: root as Certificate };
}

/** The CA's key on the card, named in DIR/key.quac; it must be the key DIR/cert.pem certifies. */
async function caCardKey(dir: string, cert: Certificate, card: QuacProvider | undefined): Promise<KeyPair> {
  const spec = readFileSync(join(dir, 'key.quac'), 'utf8').trim();
  const label = quacLabel(spec);
  if (label === undefined) throw new ConfigError(`${join(dir, 'key.quac')}: not a quac:LABEL key name`);
  if (!card) throw new UsageError(`the CA key of ${dir} is on a QUAC card (${spec}): give --quac emulated|native`);
  const keyPair = await card.storedKey(label);
  if (!equalBytes(keyPair.publicKey, cert.publicKey.publicKey)) {
    throw new ConfigError(`the card's key ${spec} is not the key ${join(dir, 'cert.pem')} certifies (another card or state file?)`);
  }
  return keyPair;
}

/**
 * The key --key/--new-key quac:LABEL names on the card (made there, persistent,
 * for --new-key), or undefined when the key is not a card key. For ca,
 * intermediate and leaf --key/--new-key take only quac:LABEL (a key file is
 * certified through \`cert csr --key FILE\` and \`leaf --csr\`).
 */
async function cardKey(
  v: Values, card: QuacProvider | undefined, forCa: boolean, fileAllowed = false,
): Promise<{ keyPair: KeyPair; label: string; created: boolean } | undefined> {
  const key = typeof v['key'] === 'string' ? v['key'] : undefined;
  const newKey = typeof v['new-key'] === 'string' ? v['new-key'] : undefined;
  if (key !== undefined && newKey !== undefined) throw new UsageError('give one of --key and --new-key');
  const spec = key ?? newKey;
  if (spec === undefined) return undefined;
  const label = quacLabel(spec);
  if (label === undefined) {
    if (!fileAllowed) throw new UsageError(`--key and --new-key name a key on the card here (quac:LABEL), not "${spec}"`);
    return undefined;
  }
  if (!card) throw new UsageError(`${spec} is a key on a QUAC card: give --quac emulated|native`);
  if (v['key-format'] !== undefined) throw new UsageError('--key-format does not apply to a key on the card (it is never written out)');
  if (key !== undefined) {
    if (v['alg'] !== undefined) throw new UsageError('--alg applies only to --new-key (the card knows the key\'s algorithm)');
    return { keyPair: await card.storedKey(label), label, created: false };
  }
  // A key made on the card stays there: refuse before making it what write() would refuse after.
  const out = v['out'];
  if (!fileAllowed && typeof out === 'string' && !v['force']) {
    const existing = ['cert.pem', 'chain.pem', 'root.pem', 'key.quac'].map((n) => join(out, n)).filter((p) => existsSync(p));
    if (existing.length) throw new UsageError(`${existing.join(', ')} already exist (use --force to overwrite)`);
  }
  const alg = algOf(v, forCa);
  if (alg !== 'ml-dsa-44' && alg !== 'ml-dsa-65' && alg !== 'ml-dsa-87') throw new UsageError(`the QUAC card holds ML-DSA keys, not ${alg}`);
  const existing = await card.storedKey(label).then(() => true, () => false);
  if (existing) throw new ConfigError(`the card already holds a key labelled ${JSON.stringify(label)} (use --key ${spec})`);
  return { keyPair: await card.createStoredKey(alg, label, { persistent: true }), label, created: true };
}

/** Writes the files into --out DIR; key.pem only when we made the key in software (not for a --csr leaf or a card key). */
async function write(
  v: Values, io: CliIo, provider: CryptoProvider, issued: Pick<IssuedCertificate, 'certificate'> & Partial<IssuedCertificate>,
  issuerChain: readonly Certificate[], root: Certificate, cardLabel?: string,
): Promise<number> {
  const out = required(v, 'out');
  const [certFile, keyFile, chainFile, rootFile] = ['cert.pem', 'key.pem', 'chain.pem', 'root.pem'].map((f) => join(out, f)) as [string, string, string, string];
  const cardFile = join(out, 'key.quac');
  const files = issued.keyPair ? [certFile, keyFile, chainFile, rootFile] : [certFile, chainFile, rootFile];
  if (cardLabel !== undefined) files.push(cardFile);
  const existing = files.filter((f) => existsSync(f));
  if (existing.length && !v['force']) throw new UsageError(`${existing.join(', ')} already exist (use --force to overwrite)`);
  const key = issued.keyPair && (await exportPrivateKeyPem(provider, issued.keyPair.privateKey, { mlDsaFormat: keyFormatOf(v) }));
  mkdirSync(out, { recursive: true });
  writeFileSync(certFile, certificateToPem(issued.certificate));
  if (key !== undefined) writeFileSync(keyFile, key, { mode: 0o600 });
  writeFileSync(chainFile, chainToPem([issued.certificate, ...issuerChain]));
  writeFileSync(rootFile, certificateToPem(root));
  if (cardLabel !== undefined) writeFileSync(cardFile, `quac:${cardLabel}\n`);
  io.out(`${formatCertificate(issued.certificate)}\nwrote ${files.join(', ')}\n`);
  return 0;
}

/** A request file as PEM text, or DER bytes when it is not PEM; a file far over the parser's limit is not read at all. */
function readRequest(file: string): string | Uint8Array {
  const max = DEFAULT_CSR_LIMITS.maxBytes * 2 + 1024;
  if (statSync(file).size > max) throw new ConfigError(`${file}: over ${max} bytes, too large for a certification request`);
  const bytes = readFileSync(file);
  const text = bytes.toString('latin1');
  return text.includes('-----BEGIN') ? text : new Uint8Array(bytes);
}

function indent(s: string): string {
  return s.split('\n').map((l) => `  ${l}`).join('\n');
}
