#!/usr/bin/env node
// Transcribes Appendix A ("Sample Packet Protection") of RFC 9001 into
// vectors.json beside this script. RFC 9369 Appendix A has the same layout and
// is extracted by ../rfc9369/extract.mjs with the function exported here.
//
// Usage: node test-vectors/rfc9001/extract.mjs [path/to/rfc9001.txt [outDir]]
// (default: the copy in test-vectors/specs/; the output goes beside this script
// unless outDir is given, which test/vectors-extract.test.ts uses to compare).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export function specPath(name) {
  return join(here, '..', 'specs', name);
}

const HEX_LINE = /^[0-9a-f ]+$/;

/** The text of one appendix section, from its title to the next one. */
function section(text, title, nextTitle) {
  const start = text.indexOf(`\n${title}`);
  const end = nextTitle ? text.indexOf(`\n${nextTitle}`, start + 1) : -1;
  if (start < 0 || (nextTitle && end < 0)) throw new Error(`section ${title} not found`);
  return text.slice(start, end < 0 ? undefined : end);
}

/**
 * Hex of the value named on the line that starts with `marker`: the first "="
 * (or ":") followed by hex, on that line or the next ones, with continuation
 * lines of hex.
 */
function value(sec, marker) {
  const lines = sec.split('\n');
  const at = lines.findIndex((l) => l.trimStart().startsWith(marker));
  if (at < 0) throw new Error(`"${marker}" not found`);
  let hex = '';
  for (let i = at, first = true; i < lines.length; i++, first = false) {
    let line = first ? lines[i].trimStart().slice(marker.length) : lines[i];
    if (!hex && !(first && line.trim() && HEX_LINE.test(line.trim()))) {
      const eq = line.search(/[=:]/);
      if (eq < 0) continue;
      line = line.slice(eq + 1);
      if (!HEX_LINE.test(line.trim())) continue;
    }
    const t = line.trim();
    if (!t || !HEX_LINE.test(t)) break;
    hex += t.replace(/ /g, '');
  }
  if (!hex) throw new Error(`no hex after "${marker}"`);
  return hex;
}

/** The hex block of indented lines that follows the paragraph containing `marker`. */
function block(sec, marker) {
  const at = sec.indexOf(marker);
  if (at < 0) throw new Error(`"${marker}" not found`);
  const lines = sec.slice(at).split('\n');
  let i = 0;
  while (i < lines.length && lines[i].trim() !== '') i++; // end of the prose paragraph
  while (i < lines.length && lines[i].trim() === '') i++;
  let hex = '';
  for (; i < lines.length && lines[i].trim() !== ''; i++) {
    const t = lines[i].trim();
    if (!HEX_LINE.test(t)) throw new Error(`non-hex line in block after "${marker}": ${t}`);
    hex += t.replace(/ /g, '');
  }
  return hex;
}

function number(sec, re) {
  const m = sec.match(re);
  if (!m) throw new Error(`${re} not found`);
  return Number(m[1]);
}

/** Extracts Appendix A of RFC 9001 or RFC 9369; `prefix` is "quic" or "quicv2". */
export function extractAppendixA(text, rfc, prefix) {
  const a1 = section(text, 'A.1.  Keys', 'A.2.');
  const a2 = section(text, 'A.2.  Client Initial', 'A.3.');
  const a3 = section(text, 'A.3.  Server Initial', 'A.4.');
  const a4 = section(text, 'A.4.  Retry', 'A.5.');
  const a5 = section(text, 'A.5.  ChaCha20-Poly1305 Short Header Packet', 'Appendix B.');
  const server = a1.slice(a1.indexOf('server packets'));
  return {
    source: `RFC ${rfc} Appendix A`,
    dcid: '8394c8f03e515708',
    keys: {
      hkdfLabels: {
        clientIn: value(a1, 'client in:'),
        serverIn: value(a1, 'server in:'),
        key: value(a1, `${prefix} key:`),
        iv: value(a1, `${prefix} iv:`),
        hp: value(a1, `${prefix} hp:`),
      },
      initialSecret: value(a1, 'initial_secret ='),
      client: {
        secret: value(a1, 'client_initial_secret'),
        key: value(a1, `key = HKDF-Expand-Label(client_initial_secret`),
        iv: value(a1, `iv  = HKDF-Expand-Label(client_initial_secret`),
        hp: value(a1, `hp  = HKDF-Expand-Label(client_initial_secret`),
      },
      server: {
        secret: value(server, 'server_initial_secret'),
        key: value(server, `key = HKDF-Expand-Label(server_initial_secret`),
        iv: value(server, `iv  = HKDF-Expand-Label(server_initial_secret`),
        hp: value(server, `hp  = HKDF-Expand-Label(server_initial_secret`),
      },
    },
    clientInitial: {
      // The CRYPTO frame; PADDING (zero bytes) fills the payload up to payloadLength.
      cryptoFrame: block(a2, 'The client sends an Initial packet.'),
      payloadLength: number(a2, /make a (\d+)-byte payload/),
      packetNumber: number(a2, /packet number of (\d+)/),
      header: block(a2, 'The unprotected header indicates'),
      sample: value(a2, 'sample ='),
      mask: value(a2, 'mask = AES-ECB(hp, sample)[0..4]'),
      protectedHeader: value(a2, 'header = '),
      packet: block(a2, 'The resulting protected packet is:'),
    },
    serverInitial: {
      payload: block(a3, 'The server sends the following payload'),
      packetNumber: number(a3, /packet number of (\d+)/),
      header: block(a3, 'The header from the server includes'),
      sample: value(a3, 'sample ='),
      mask: value(a3, 'mask   ='),
      protectedHeader: value(a3, 'header ='),
      packet: block(a3, 'The final protected packet is then:'),
    },
    retry: {
      originalDcid: '8394c8f03e515708',
      packet: block(a4, 'This shows a Retry packet'),
    },
    chacha20ShortHeader: {
      secret: value(a5, 'secret'),
      key: value(a5, `key = HKDF-Expand-Label(secret`),
      iv: value(a5, `iv  = HKDF-Expand-Label(secret`),
      hp: value(a5, `hp  = HKDF-Expand-Label(secret`),
      ku: value(a5, `ku  = HKDF-Expand-Label(secret`),
      packetNumber: number(a5, /pn\s+= (\d+) \(decimal\)/),
      nonce: value(a5, 'nonce '),
      unprotectedHeader: value(a5, 'unprotected header'),
      payload: value(a5, 'payload plaintext'),
      ciphertext: value(a5, 'payload ciphertext'),
      sample: value(a5, 'sample ='),
      mask: value(a5, 'mask   ='),
      protectedHeader: value(a5, 'header = '),
      packet: value(a5, 'packet = '),
    },
  };
}

export function writeVectors(dir, vectors) {
  writeFileSync(join(dir, 'vectors.json'), JSON.stringify(vectors, null, 2) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = readFileSync(process.argv[2] ?? specPath('rfc9001.txt'), 'utf8');
  const outDir = process.argv[3] ?? here;
  writeVectors(outDir, extractAppendixA(text, 9001, 'quic'));
  console.log(`wrote ${join(outDir, 'vectors.json')}`);
}
