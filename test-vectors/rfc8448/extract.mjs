#!/usr/bin/env node
/**
 * Transcribes RFC 8448 §3 (Simple 1-RTT Handshake), §4 (Resumed 0-RTT
 * Handshake) and §5 (HelloRetryRequest) from the plain-text RFC into JSON, by
 * parsing the hex blocks.
 *
 *   node test-vectors/rfc8448/extract.mjs [path/to/rfc8448.txt [outDir]]
 *
 * The RFC defaults to the copy in test-vectors/specs/rfc8448.txt; the output
 * directory to this script's own. Writes `simple-1rtt.json`, `resumed-0rtt.json` and
 * `hello-retry-request.json` next to this script. Each file holds:
 *  - `steps`: every value the section lists, in order, keyed by the RFC's own
 *    labels (`PRK`, `info`, `expanded`, `complete record`, ...), so nothing
 *    listed is lost;
 *  - named views over the same bytes for tests and replays: `x25519` (§5:
 *    `keyShares`, with P-256 after the retry),
 *    `randoms`, `messages`, `transcriptHashes`, `secrets`, `finished`,
 *    `trafficKeys`, `ticket`/`psk`, and `records` (in wire order, with
 *    direction and content types).
 * Every hex block is checked against its declared octet count, every value
 * the RFC lists twice must agree, and record payloads must equal the messages
 * they carry, so a transcription slip fails here rather than in a test.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = process.argv[2] ?? resolve(here, '../specs/rfc8448.txt');
const outDir = process.argv[3] ?? here;

// ---------------------------------------------------------------- parsing

/** The RFC's lines with page breaks (form feeds, running headers and footers) removed. */
function contentLines(text) {
  return text
    .replace(/\f/g, '')
    .split(/\r?\n/)
    .filter((l) => !/^Thomson\s+Expires .*\[Page \d+\]\s*$/.test(l) && !/^Internet-Draft\s+TLS 1\.3 Traces/.test(l));
}

function sectionLines(lines, startHeading, endHeading) {
  const start = lines.findIndex((l) => l.startsWith(startHeading));
  const end = lines.findIndex((l, i) => i > start && l.startsWith(endHeading));
  if (start < 0 || end < 0) throw new Error(`section "${startHeading}" not found`);
  return lines.slice(start + 1, end);
}

const STEP = /^   \{(client|server)\}  (.*)$/;
const FIELD = /^      ([A-Za-z][A-Za-z ]*?) \((\d+) octets\):\s*(.*)$/;
const ZERO_SALT = /^      salt:\s+0 \(all zero octets\)\s*$/;
const HEX_LINE = /^\s+([0-9a-f]{2})( [0-9a-f]{2})*\s*$/;

/** Parses a section into steps: `{ actor, title, values: { label: hex } }`. */
function parseSteps(lines) {
  const steps = [];
  let step = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const s = STEP.exec(line);
    if (s) {
      let title = s[2].trim();
      // A title may wrap onto the next line ("... (same as server\n      handshake ...)").
      while (!title.endsWith(':') && !title.endsWith(')') && /\(same/.test(title) && i + 1 < lines.length) {
        title += ' ' + lines[++i].trim();
      }
      step = { actor: s[1], title: title.replace(/:$/, ''), values: {} };
      steps.push(step);
      continue;
    }
    if (ZERO_SALT.test(line)) {
      if (!step) throw new Error(`value outside a step: ${line}`);
      step.values.salt = '';
      continue;
    }
    const f = FIELD.exec(line);
    if (!f) {
      if (line.trim() !== '' && step && !HEX_LINE.test(line)) {
        if (!/^   \S/.test(line)) throw new Error(`unrecognised line in step "${step.title}": ${line}`);
      }
      continue;
    }
    if (!step) throw new Error(`value outside a step: ${line}`);
    const [, label, n, first] = f;
    const want = Number(n);
    const bytes = [];
    const take = (text) => {
      for (const b of text.trim().split(/\s+/)) if (b) bytes.push(b);
    };
    if (first.trim() !== '(empty)') take(first);
    // Continuation lines: hex only; blank lines left by page breaks are skipped.
    while (bytes.length < want) {
      const next = lines[++i];
      if (next === undefined) throw new Error(`${label}: ran out of text with ${bytes.length}/${want} bytes`);
      if (next.trim() === '') continue;
      if (!HEX_LINE.test(next)) throw new Error(`${label}: expected hex, got: ${next}`);
      take(next);
    }
    if (bytes.length !== want || bytes.some((b) => !/^[0-9a-f]{2}$/.test(b))) {
      throw new Error(`${label} in "${step.title}": declared ${want} octets, read ${bytes.length}`);
    }
    if (label in step.values) throw new Error(`duplicate ${label} in "${step.title}"`);
    step.values[label] = bytes.join('');
  }
  return steps;
}

// ---------------------------------------------------------- named views

/**
 * Assigns named paths from `rules`: each rule matches an actor and title (the
 * `nth` occurrence of that pair, default every one) and maps RFC labels to
 * paths. A path set twice must get identical bytes.
 */
function nameValues(steps, rules) {
  const out = {};
  const seen = new Map();
  const used = new Set();
  for (const step of steps) {
    const key = `${step.actor}|${step.title}`;
    const nth = seen.get(key) ?? 0;
    seen.set(key, nth + 1);
    for (const [r, rule] of rules.entries()) {
      if (rule.actor !== step.actor || rule.title !== step.title || (rule.nth !== undefined && rule.nth !== nth)) continue;
      used.add(r);
      for (const [label, path] of Object.entries(rule.fields)) {
        const v = step.values[label];
        if (v === undefined) throw new Error(`"${step.title}" has no ${label}`);
        setPath(out, path, v);
      }
    }
  }
  for (const [r, rule] of rules.entries()) {
    if (!used.has(r)) throw new Error(`rule never matched: ${rule.actor} "${rule.title}" #${rule.nth ?? '*'}`);
  }
  return out;
}

function setPath(obj, path, value) {
  const parts = path.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) o = o[p] ??= {};
  const last = parts[parts.length - 1];
  if (last in o && o[last] !== value) throw new Error(`${path}: RFC lists two different values`);
  o[last] = value;
}

const rule = (actor, title, fields, nth) => ({ actor, title, fields, nth });
const record = (name) => ({ payload: `records.${name}.payload`, 'complete record': `records.${name}.record` });
const keys = (name) => ({ 'key expanded': `trafficKeys.${name}.key`, 'iv expanded': `trafficKeys.${name}.iv` });
const derive = (secret, hashName) => ({ expanded: `secrets.${secret}`, hash: `transcriptHashes.${hashName}` });

const C = 'client', S = 'server';

const rules3 = [
  rule(C, 'create an ephemeral x25519 key pair', { 'private key': 'x25519.client.privateKey', 'public key': 'x25519.client.publicKey' }),
  rule(C, 'construct a ClientHello handshake message', { ClientHello: 'messages.clientHello' }),
  rule(C, 'send handshake record', record('clientHello'), 0),
  rule(S, 'extract secret "early"', { IKM: 'psk', secret: 'secrets.early' }),
  rule(S, 'create an ephemeral x25519 key pair', { 'private key': 'x25519.server.privateKey', 'public key': 'x25519.server.publicKey' }),
  rule(S, 'construct a ServerHello handshake message', { ServerHello: 'messages.serverHello' }),
  rule(S, 'derive secret for handshake "tls13 derived"', derive('derivedForHandshake', 'empty')),
  rule(C, 'derive secret for handshake "tls13 derived"', derive('derivedForHandshake', 'empty')),
  rule(S, 'extract secret "handshake"', { IKM: 'x25519.sharedSecret', secret: 'secrets.handshake' }),
  rule(S, 'derive secret "tls13 c hs traffic"', derive('clientHandshakeTraffic', 'clientHelloToServerHello')),
  rule(S, 'derive secret "tls13 s hs traffic"', derive('serverHandshakeTraffic', 'clientHelloToServerHello')),
  rule(S, 'derive secret for master "tls13 derived"', derive('derivedForMaster', 'empty')),
  rule(S, 'extract secret "master"', { secret: 'secrets.master' }),
  rule(S, 'send handshake record', record('serverHello'), 0),
  rule(S, 'derive write traffic keys for handshake data', keys('serverHandshake')),
  rule(S, 'construct a EncryptedExtensions handshake message', { EncryptedExtensions: 'messages.encryptedExtensions' }),
  rule(S, 'construct a Certificate handshake message', { Certificate: 'messages.certificate' }),
  rule(S, 'construct a CertificateVerify handshake message', { CertificateVerify: 'messages.certificateVerify' }),
  rule(S, 'calculate finished "tls13 finished"', { expanded: 'finished.server.finishedKey', finished: 'finished.server.verifyData' }),
  rule(S, 'construct a Finished handshake message', { Finished: 'messages.serverFinished' }),
  rule(S, 'send handshake record', record('serverHandshakeFlight'), 1),
  rule(S, 'derive secret "tls13 c ap traffic"', derive('clientApplicationTraffic0', 'clientHelloToServerFinished')),
  rule(S, 'derive secret "tls13 s ap traffic"', derive('serverApplicationTraffic0', 'clientHelloToServerFinished')),
  rule(S, 'derive secret "tls13 exp master"', derive('exporterMaster', 'clientHelloToServerFinished')),
  rule(S, 'derive write traffic keys for application data', keys('serverApplication')),
  rule(S, 'derive read traffic keys for handshake data', keys('clientHandshake')),
  rule(C, 'calculate finished "tls13 finished"', { expanded: 'finished.client.finishedKey', finished: 'finished.client.verifyData' }),
  rule(C, 'construct a Finished handshake message', { Finished: 'messages.clientFinished' }),
  rule(C, 'send handshake record', record('clientFinished'), 1),
  rule(C, 'derive write traffic keys for application data', keys('clientApplication')),
  rule(C, 'derive secret "tls13 res master"', derive('resumptionMaster', 'clientHelloToClientFinished')),
  rule(S, 'generate resumption secret "tls13 resumption"', { PRK: 'secrets.resumptionMaster', hash: 'ticket.nonce', expanded: 'ticket.psk' }),
  rule(S, 'construct a NewSessionTicket handshake message', { NewSessionTicket: 'messages.newSessionTicket' }),
  rule(S, 'send handshake record', record('newSessionTicket'), 2),
  rule(C, 'send application_data record', record('clientApplicationData')),
  rule(S, 'send application_data record', record('serverApplicationData')),
  rule(C, 'send alert record', record('clientAlert')),
  rule(S, 'send alert record', record('serverAlert')),
];

const rules4 = [
  rule(C, 'create an ephemeral x25519 key pair', { 'private key': 'x25519.client.privateKey', 'public key': 'x25519.client.publicKey' }),
  rule(C, 'extract secret "early"', { IKM: 'psk', secret: 'secrets.early' }),
  // The "ClientHello (477 octets)" listing is the ClientHello without its binders, as hashed for the binder.
  rule(C, 'construct a ClientHello handshake message', { ClientHello: 'messages.clientHelloPrefix' }),
  rule(C, 'calculate PSK binder', {
    'ClientHello prefix': 'messages.clientHelloPrefix', 'binder hash': 'transcriptHashes.clientHelloPrefix',
    PRK: 'secrets.resBinderKey', expanded: 'binder.finishedKey', finished: 'binder.value',
  }),
  rule(C, 'send handshake record', { payload: 'messages.clientHello', 'complete record': 'records.clientHello.record' }, 0),
  rule(C, 'derive secret "tls13 c e traffic"', derive('clientEarlyTraffic', 'clientHello')),
  rule(C, 'derive secret "tls13 e exp master"', derive('earlyExporterMaster', 'clientHello')),
  rule(C, 'derive write traffic keys for early application data', keys('clientEarly')),
  rule(C, 'send application_data record', record('clientEarlyData'), 0),
  rule(S, 'create an ephemeral x25519 key pair', { 'private key': 'x25519.server.privateKey', 'public key': 'x25519.server.publicKey' }),
  rule(S, 'construct a ServerHello handshake message', { ServerHello: 'messages.serverHello' }),
  rule(S, 'derive secret for handshake "tls13 derived"', derive('derivedForHandshake', 'empty')),
  rule(C, 'derive secret for handshake "tls13 derived"', derive('derivedForHandshake', 'empty')),
  rule(S, 'extract secret "handshake"', { IKM: 'x25519.sharedSecret', secret: 'secrets.handshake' }),
  rule(S, 'derive secret "tls13 c hs traffic"', derive('clientHandshakeTraffic', 'clientHelloToServerHello')),
  rule(S, 'derive secret "tls13 s hs traffic"', derive('serverHandshakeTraffic', 'clientHelloToServerHello')),
  rule(S, 'derive secret for master "tls13 derived"', derive('derivedForMaster', 'empty')),
  rule(S, 'extract secret "master"', { secret: 'secrets.master' }),
  rule(S, 'send handshake record', record('serverHello'), 0),
  rule(S, 'derive write traffic keys for handshake data', keys('serverHandshake')),
  rule(S, 'construct a EncryptedExtensions handshake message', { EncryptedExtensions: 'messages.encryptedExtensions' }),
  rule(S, 'calculate finished "tls13 finished"', { expanded: 'finished.server.finishedKey', finished: 'finished.server.verifyData' }),
  rule(S, 'construct a Finished handshake message', { Finished: 'messages.serverFinished' }),
  rule(S, 'send handshake record', record('serverHandshakeFlight'), 1),
  rule(S, 'derive secret "tls13 c ap traffic"', derive('clientApplicationTraffic0', 'clientHelloToServerFinished')),
  rule(S, 'derive secret "tls13 s ap traffic"', derive('serverApplicationTraffic0', 'clientHelloToServerFinished')),
  rule(S, 'derive secret "tls13 exp master"', derive('exporterMaster', 'clientHelloToServerFinished')),
  rule(S, 'derive write traffic keys for application data', keys('serverApplication')),
  rule(C, 'construct a EndOfEarlyData handshake message', { EndOfEarlyData: 'messages.endOfEarlyData' }),
  rule(C, 'send handshake record', record('endOfEarlyData'), 1),
  rule(C, 'derive write traffic keys for handshake data', keys('clientHandshake')),
  rule(C, 'calculate finished "tls13 finished"', { expanded: 'finished.client.finishedKey', finished: 'finished.client.verifyData' }),
  rule(C, 'construct a Finished handshake message', { Finished: 'messages.clientFinished' }),
  rule(C, 'send handshake record', record('clientFinished'), 2),
  rule(C, 'derive write traffic keys for application data', keys('clientApplication')),
  rule(C, 'derive secret "tls13 res master"', derive('resumptionMaster', 'clientHelloToClientFinished')),
  rule(C, 'send application_data record', record('clientApplicationData'), 1),
  rule(S, 'send application_data record', record('serverApplicationData')),
  rule(C, 'send alert record', record('clientAlert')),
  rule(S, 'send alert record', record('serverAlert')),
];

// §5 names the key shares `keyShares` (x25519 first, then P-256 after the HelloRetryRequest).
const rules5 = [
  rule(C, 'create an ephemeral x25519 key pair', { 'private key': 'keyShares.clientX25519.privateKey', 'public key': 'keyShares.clientX25519.publicKey' }),
  rule(C, 'construct a ClientHello handshake message', { ClientHello: 'messages.clientHello1' }, 0),
  rule(C, 'send handshake record', record('clientHello1'), 0),
  rule(S, 'construct a ServerHello handshake message', { ServerHello: 'messages.helloRetryRequest' }, 0),
  rule(S, 'send handshake record', record('helloRetryRequest'), 0),
  rule(C, 'create an ephemeral P-256 key pair', { 'private key': 'keyShares.clientP256.privateKey', 'public key': 'keyShares.clientP256.publicKey' }),
  rule(C, 'construct a ClientHello handshake message', { ClientHello: 'messages.clientHello' }, 1),
  rule(C, 'send handshake record', record('clientHello'), 1),
  rule(S, 'extract secret "early"', { IKM: 'psk', secret: 'secrets.early' }),
  rule(S, 'create an ephemeral P-256 key pair', { 'private key': 'keyShares.serverP256.privateKey', 'public key': 'keyShares.serverP256.publicKey' }),
  rule(S, 'construct a ServerHello handshake message', { ServerHello: 'messages.serverHello' }, 1),
  ...rules3.filter((r) => r.actor === S && /derive secret|extract secret "(handshake|master)"/.test(r.title)),
  rule(C, 'derive secret for handshake "tls13 derived"', derive('derivedForHandshake', 'empty')),
  rule(S, 'send handshake record', record('serverHello'), 1),
  rule(S, 'derive write traffic keys for handshake data', keys('serverHandshake')),
  rule(S, 'construct a EncryptedExtensions handshake message', { EncryptedExtensions: 'messages.encryptedExtensions' }),
  rule(S, 'construct a Certificate handshake message', { Certificate: 'messages.certificate' }),
  rule(S, 'construct a CertificateVerify handshake message', { CertificateVerify: 'messages.certificateVerify' }),
  rule(S, 'calculate finished "tls13 finished"', { expanded: 'finished.server.finishedKey', finished: 'finished.server.verifyData' }),
  rule(S, 'construct a Finished handshake message', { Finished: 'messages.serverFinished' }),
  rule(S, 'send handshake record', record('serverHandshakeFlight'), 2),
  rule(S, 'derive write traffic keys for application data', keys('serverApplication')),
  rule(S, 'derive read traffic keys for handshake data', keys('clientHandshake')),
  rule(C, 'calculate finished "tls13 finished"', { expanded: 'finished.client.finishedKey', finished: 'finished.client.verifyData' }),
  rule(C, 'construct a Finished handshake message', { Finished: 'messages.clientFinished' }),
  rule(C, 'send handshake record', record('clientFinished'), 2),
  rule(C, 'derive write traffic keys for application data', keys('clientApplication')),
  rule(C, 'derive secret "tls13 res master"', derive('resumptionMaster', 'clientHelloToClientFinished')),
  rule(C, 'send alert record', record('clientAlert')),
  rule(S, 'send alert record', record('serverAlert')),
].map((r) => r.title === 'extract secret "handshake"' ? { ...r, fields: { IKM: 'keyShares.sharedSecret', secret: 'secrets.handshake' } } : r);

/** Who sends each record, and the content type inside the protection (RFC 8446 §5.2). */
const RECORD_INFO = {
  clientHello1: { from: 'client', innerContentType: null },
  helloRetryRequest: { from: 'server', innerContentType: null },
  clientHello: { from: 'client', innerContentType: null },
  serverHello: { from: 'server', innerContentType: null },
  clientEarlyData: { from: 'client', innerContentType: 23, keys: 'clientEarly' },
  serverHandshakeFlight: { from: 'server', innerContentType: 22, keys: 'serverHandshake' },
  endOfEarlyData: { from: 'client', innerContentType: 22, keys: 'clientEarly' },
  clientFinished: { from: 'client', innerContentType: 22, keys: 'clientHandshake' },
  newSessionTicket: { from: 'server', innerContentType: 22, keys: 'serverApplication' },
  clientApplicationData: { from: 'client', innerContentType: 23, keys: 'clientApplication' },
  serverApplicationData: { from: 'server', innerContentType: 23, keys: 'serverApplication' },
  clientAlert: { from: 'client', innerContentType: 21, keys: 'clientApplication' },
  serverAlert: { from: 'server', innerContentType: 21, keys: 'serverApplication' },
};

/** Wire order of the records in each section (the RFC lists client and server actions grouped, not interleaved). */
const WIRE_ORDER = {
  '3': ['clientHello', 'serverHello', 'serverHandshakeFlight', 'clientFinished', 'newSessionTicket',
    'clientApplicationData', 'serverApplicationData', 'clientAlert', 'serverAlert'],
  '4': ['clientHello', 'clientEarlyData', 'serverHello', 'serverHandshakeFlight', 'endOfEarlyData', 'clientFinished',
    'clientApplicationData', 'serverApplicationData', 'clientAlert', 'serverAlert'],
  '5': ['clientHello1', 'helloRetryRequest', 'clientHello', 'serverHello', 'serverHandshakeFlight', 'clientFinished',
    'clientAlert', 'serverAlert'],
};

function check(cond, what) {
  if (!cond) throw new Error(`consistency check failed: ${what}`);
}

function finish(section, title, steps, named, messagePlan, group = { name: 'x25519', id: 0x001d }) {
  const m = named.messages;
  // Plaintext records carry the message itself; encrypted ones carry the messages their flight holds.
  for (const [rec, parts] of Object.entries(messagePlan)) {
    const payload = parts.map((p) => m[p]).join('');
    if (named.records[rec].payload !== undefined) check(named.records[rec].payload === payload, `${rec} payload`);
    named.records[rec].payload = payload;
  }
  const records = {};
  const nextSeq = {};
  for (const name of WIRE_ORDER[section]) {
    const r = named.records[name];
    check(r && r.record && r.payload !== undefined, `record ${name} present`);
    const info = RECORD_INFO[name];
    const header = r.record.slice(0, 10);
    check(parseInt(header.slice(6, 10), 16) === r.record.length / 2 - 5, `${name} header length`);
    records[name] = {
      from: info.from,
      contentType: parseInt(header.slice(0, 2), 16),
      protected: info.innerContentType !== null,
      // Protected records name the traffic keys and the per-key sequence number they were sealed with (§5.3).
      ...(info.innerContentType !== null
        ? { innerContentType: info.innerContentType, keys: info.keys, sequenceNumber: (nextSeq[info.keys] = (nextSeq[info.keys] ?? -1) + 1) }
        : {}),
      payload: r.payload,
      record: r.record,
    };
    if (!records[name].protected) check(r.record.slice(10) === r.payload, `${name} plaintext record carries payload`);
  }
  check(Object.keys(records).length === Object.keys(named.records).length, 'every record placed in wire order');
  // Hello.random: 32 bytes after the 4-byte handshake header and 2-byte legacy_version.
  const randoms = { client: m.clientHello.slice(12, 76), server: m.serverHello.slice(12, 76) };
  check(m.clientHello.startsWith('01') && m.serverHello.startsWith('02'), 'hello message types');
  const { messages, x25519, transcriptHashes, secrets, finished, trafficKeys, psk, ...rest } = named;
  delete rest.records;
  return {
    source: 'RFC 8448 (Example Handshake Traces for TLS 1.3), transcribed by test-vectors/rfc8448/extract.mjs',
    section,
    title,
    cipherSuite: { name: 'TLS_AES_128_GCM_SHA256', id: 0x1301, hash: 'SHA-256', aead: 'AES-128-GCM' },
    group,
    psk,
    x25519,
    randoms,
    messages,
    transcriptHashes,
    secrets,
    finished,
    trafficKeys,
    ...rest,
    records,
    steps,
  };
}

const lines = contentLines(readFileSync(source, 'utf8'));

const steps3 = parseSteps(sectionLines(lines, '3.  Simple 1-RTT Handshake', '4.  Resumed 0-RTT Handshake'));
const named3 = nameValues(steps3, rules3);
const simple = finish('3', 'Simple 1-RTT Handshake', steps3, named3, {
  clientHello: ['clientHello'],
  serverHello: ['serverHello'],
  serverHandshakeFlight: ['encryptedExtensions', 'certificate', 'certificateVerify', 'serverFinished'],
  clientFinished: ['clientFinished'],
  newSessionTicket: ['newSessionTicket'],
});

const steps4 = parseSteps(sectionLines(lines, '4.  Resumed 0-RTT Handshake', '5.  HelloRetryRequest'));
const named4 = nameValues(steps4, rules4);
const resumed = finish('4', 'Resumed 0-RTT Handshake', steps4, named4, {
  clientHello: ['clientHello'],
  serverHello: ['serverHello'],
  serverHandshakeFlight: ['encryptedExtensions', 'serverFinished'],
  endOfEarlyData: ['endOfEarlyData'],
  clientFinished: ['clientFinished'],
});

const steps5 = parseSteps(sectionLines(lines, '5.  HelloRetryRequest', '6.  Client Authentication'));
const named5 = nameValues(steps5, rules5);
const hrr = finish('5', 'HelloRetryRequest', steps5, named5, {
  clientHello1: ['clientHello1'],
  helloRetryRequest: ['helloRetryRequest'],
  clientHello: ['clientHello'],
  serverHello: ['serverHello'],
  serverHandshakeFlight: ['encryptedExtensions', 'certificate', 'certificateVerify', 'serverFinished'],
  clientFinished: ['clientFinished'],
}, { name: 'secp256r1', id: 0x0017 });
check(hrr.psk === '00'.repeat(32), '§5 early IKM is zeros');
hrr.psk = null;
// HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest") (RFC 8446 §4.1.3).
check(hrr.messages.helloRetryRequest.slice(12, 76) === 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', '§5 HRR random');

// §4 resumes with the ticket PSK of §3, and its ClientHello carries the §3 ticket and the computed binder.
check(resumed.psk === simple.ticket.psk, '§4 PSK is the §3 ticket PSK');
check(resumed.messages.clientHello.startsWith(resumed.messages.clientHelloPrefix), '§4 ClientHello extends its prefix');
check(resumed.messages.clientHello.endsWith('002120' + resumed.binder.value), '§4 ClientHello ends with the binder');
// §3 has no PSK: its early secret is extracted from HashLen zeros.
check(simple.psk === '00'.repeat(32), '§3 early IKM is zeros');
simple.psk = null;

for (const [file, data] of [['simple-1rtt.json', simple], ['resumed-0rtt.json', resumed], ['hello-retry-request.json', hrr]]) {
  writeFileSync(join(outDir, file), JSON.stringify(data, null, 2) + '\n');
  console.log(`wrote ${file}: ${data.steps.length} steps, ${Object.keys(data.records).length} records`);
}
