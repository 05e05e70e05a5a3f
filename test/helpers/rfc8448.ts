/**
 * Typed access to the RFC 8448 traces transcribed by
 * test-vectors/rfc8448/extract.mjs (hex strings in JSON, read as bytes here).
 */
import { readFileSync } from 'node:fs';
import { fromHex } from '../../src/bytes.js';

type Hex = string;
type HexTree = { readonly [name: string]: Hex };

export interface Rfc8448Record {
  readonly from: 'client' | 'server';
  readonly contentType: number;
  readonly protected: boolean;
  readonly innerContentType?: number;
  /** Name under `trafficKeys` of the keys that protect it. */
  readonly keys?: string;
  readonly sequenceNumber?: number;
  readonly payload: Hex;
  readonly record: Hex;
}

export interface Rfc8448Trace {
  readonly section: string;
  readonly psk: Hex | null;
  /** §3 and §4: both x25519 key pairs and their shared secret. */
  readonly x25519?: {
    readonly client: { readonly privateKey: Hex; readonly publicKey: Hex };
    readonly server: { readonly privateKey: Hex; readonly publicKey: Hex };
    readonly sharedSecret: Hex;
  };
  /** §5: the client's first (x25519) share, the P-256 shares after the retry, and their shared secret. */
  readonly keyShares?: { readonly sharedSecret: Hex; readonly [name: string]: Hex | { readonly privateKey: Hex; readonly publicKey: Hex } };
  readonly randoms: { readonly client: Hex; readonly server: Hex };
  readonly messages: HexTree;
  readonly transcriptHashes: HexTree;
  readonly secrets: HexTree;
  readonly finished: {
    readonly server: { readonly finishedKey: Hex; readonly verifyData: Hex };
    readonly client: { readonly finishedKey: Hex; readonly verifyData: Hex };
  };
  readonly trafficKeys: { readonly [name: string]: { readonly key: Hex; readonly iv: Hex } };
  readonly ticket?: { readonly nonce: Hex; readonly psk: Hex };
  readonly binder?: { readonly finishedKey: Hex; readonly value: Hex };
  readonly records: { readonly [name: string]: Rfc8448Record };
}

function load(file: string): Rfc8448Trace {
  return JSON.parse(readFileSync(new URL(`../../test-vectors/rfc8448/${file}`, import.meta.url), 'utf8')) as Rfc8448Trace;
}

/** RFC 8448 §3, Simple 1-RTT Handshake. */
export const simple1Rtt = load('simple-1rtt.json');
/** RFC 8448 §4, Resumed 0-RTT Handshake. */
export const resumed0Rtt = load('resumed-0rtt.json');
/** RFC 8448 §5, HelloRetryRequest. */
export const helloRetry = load('hello-retry-request.json');

/** The (EC)DHE shared secret of a trace. */
export function sharedSecretOf(t: Rfc8448Trace): Uint8Array {
  const hex = t.x25519?.sharedSecret ?? t.keyShares?.sharedSecret;
  if (hex === undefined) throw new Error(`RFC 8448 §${t.section} trace has no shared secret`);
  return fromHex(hex);
}

/** A named hex value as bytes; throws if the trace lacks it, so a typo cannot pass silently. */
export function bytes(tree: HexTree, name: string): Uint8Array {
  const v = tree[name];
  if (v === undefined) throw new Error(`RFC 8448 trace has no value "${name}"`);
  return fromHex(v);
}

/** The traffic secret each set of traffic keys is derived from, by the names extract.mjs uses. */
export const SECRET_OF_KEYS: { readonly [keys: string]: string } = {
  clientEarly: 'clientEarlyTraffic',
  clientHandshake: 'clientHandshakeTraffic',
  serverHandshake: 'serverHandshakeTraffic',
  clientApplication: 'clientApplicationTraffic0',
  serverApplication: 'serverApplicationTraffic0',
};
