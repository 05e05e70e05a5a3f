#!/usr/bin/env node
// Transcribes Appendix A of RFC 9369 (QUIC version 2) into vectors.json beside
// this script; the layout matches RFC 9001 Appendix A, so the parser is shared.
//
// Usage: node test-vectors/rfc9369/extract.mjs [path/to/rfc9369.txt [outDir]]
// (default: the copy in test-vectors/specs/, output beside this script).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { extractAppendixA, specPath, writeVectors } from '../rfc9001/extract.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const text = readFileSync(process.argv[2] ?? specPath('rfc9369.txt'), 'utf8');
const outDir = process.argv[3] ?? here;
writeVectors(outDir, extractAppendixA(text, 9369, 'quicv2'));
console.log(`wrote ${join(outDir, 'vectors.json')}`);
