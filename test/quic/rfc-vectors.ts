/**
 * Typed access to RFC 9001 and RFC 9369 Appendix A, transcribed by
 * test-vectors/rfc9001/extract.mjs and test-vectors/rfc9369/extract.mjs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Hex = string;
interface SideKeys { readonly secret: Hex; readonly key: Hex; readonly iv: Hex; readonly hp: Hex }

export interface QuicAppendixA {
  readonly source: string;
  readonly dcid: Hex;
  readonly keys: {
    readonly hkdfLabels: { readonly clientIn: Hex; readonly serverIn: Hex; readonly key: Hex; readonly iv: Hex; readonly hp: Hex };
    readonly initialSecret: Hex;
    readonly client: SideKeys;
    readonly server: SideKeys;
  };
  readonly clientInitial: {
    readonly cryptoFrame: Hex; readonly payloadLength: number; readonly packetNumber: number; readonly header: Hex;
    readonly sample: Hex; readonly mask: Hex; readonly protectedHeader: Hex; readonly packet: Hex;
  };
  readonly serverInitial: {
    readonly payload: Hex; readonly packetNumber: number; readonly header: Hex;
    readonly sample: Hex; readonly mask: Hex; readonly protectedHeader: Hex; readonly packet: Hex;
  };
  readonly retry: { readonly originalDcid: Hex; readonly packet: Hex };
  readonly chacha20ShortHeader: {
    readonly secret: Hex; readonly key: Hex; readonly iv: Hex; readonly hp: Hex; readonly ku: Hex;
    readonly packetNumber: number; readonly nonce: Hex; readonly unprotectedHeader: Hex; readonly payload: Hex;
    readonly ciphertext: Hex; readonly sample: Hex; readonly mask: Hex; readonly protectedHeader: Hex; readonly packet: Hex;
  };
}

export function loadAppendixA(rfc: 'rfc9001' | 'rfc9369'): QuicAppendixA {
  const url = new URL(`../../test-vectors/${rfc}/vectors.json`, import.meta.url);
  return JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as QuicAppendixA;
}
