#!/usr/bin/env node
// Transcribes the RSA private key that RFC 8448's server uses (the text before §3) into
// server-rsa-key.json. Usage: node extract-rsa-key.mjs [path/to/rfc8448.txt [outDir]]
// (default: the copy in test-vectors/specs/, output beside this script).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = process.argv[2] ?? join(here, '../specs/rfc8448.txt');
const outDir = process.argv[3] ?? here;
const text = readFileSync(src, 'utf8');
const start = text.indexOf('The server in most examples uses an RSA certificate');
const end = text.indexOf('3.  Simple 1-RTT Handshake', start);
if (start < 0 || end < 0) throw new Error('RSA key paragraph not found');
// Drop page footers/headers, then read "name:  hex hex ..." blocks.
const lines = text.slice(start, end).split('\n').filter((l) => !/^(Thomson|Internet-Draft)\s/.test(l) && !/\f/.test(l));
const names = { 'modulus (public)': 'modulus', 'public exponent': 'publicExponent', 'private exponent': 'privateExponent',
  prime1: 'prime1', prime2: 'prime2', exponent1: 'exponent1', exponent2: 'exponent2', coefficient: 'coefficient' };
const key = {};
let current = null;
for (const line of lines) {
  const m = /^\s+([a-z0-9 ()]+):\s+((?:[0-9a-f]{2}\s*)+)$/.exec(line);
  if (m && names[m[1].trim()]) {
    current = names[m[1].trim()];
    key[current] = m[2].replace(/\s+/g, '');
  } else if (current && /^\s+(?:[0-9a-f]{2}\s*)+$/.test(line)) {
    key[current] += line.replace(/\s+/g, '');
  } else if (line.trim() !== '') {
    current = null;
  }
}
for (const n of Object.values(names)) if (!key[n]) throw new Error(`missing ${n}`);
writeFileSync(join(outDir, 'server-rsa-key.json'), JSON.stringify({ source: 'RFC 8448 §2 (server RSA key)', ...key }, null, 2) + '\n');
