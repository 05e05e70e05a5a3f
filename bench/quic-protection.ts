/**
 * QUIC packet protection throughput: 1200-byte 1-RTT packets sealed and
 * opened per second through `sealPacket`/`openPacket` (header protection
 * included), beside the bare noble AEAD + header-protection mask on the same
 * sizes in the same run. The ratio is what the protection layer costs on top
 * of the primitives (goal: under 10%).
 *
 * Run alone: node --import tsx bench/quic-protection.ts
 */
import { gcm, ecb } from '@noble/ciphers/aes.js';
import { chacha20, chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { pathToFileURL } from 'node:url';
import { createNobleProvider } from '../src/pq/noble/index.js';
import { median } from './compare.js';
import { seededRandom } from '../src/testing/index.js';
import {
  AES_128_GCM_SHA256, CHACHA20_POLY1305_SHA256, QUIC_V1, deriveDirectionalKeys, openPacket, parsePacket, sealPacket,
  type DirectionalKeys, type ProtectedPacket, type QuicCipherSuite,
} from '../src/quic/index.js';

const PACKET_SIZE = 1200;
const DCID = new Uint8Array(8).fill(0xcd);
const PN_LENGTH = 2;
/** 1 first byte + DCID + packet number + payload + tag = 1200. */
const PAYLOAD_SIZE = PACKET_SIZE - 1 - DCID.length - PN_LENGTH - 16;
const PACKETS_PER_ROUND = 600;
const ROUNDS = 15;

type Op = () => Promise<void> | void;

async function time(op: Op, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op();
  return (performance.now() - t0) / 1000;
}


interface Pair { readonly bare: Op; readonly layer: Op }

/** The same work two ways: the noble primitives called directly, and through the protection layer. */
async function pairsFor(suite: QuicCipherSuite): Promise<{ seal: Pair; open: Pair }> {
  const provider = createNobleProvider({ random: seededRandom('bench') });
  const keys: DirectionalKeys = await deriveDirectionalKeys(provider, QUIC_V1, suite, seededRandom('secret')(32));
  const rnd = seededRandom('bench keys');
  const key = rnd(suite.aead === 'AES-128-GCM' ? 16 : 32);
  const hpKey = rnd(suite.aead === 'AES-128-GCM' ? 16 : 32);
  const nonce = rnd(12);
  const aad = rnd(1 + DCID.length + PN_LENGTH);
  const payload = rnd(PAYLOAD_SIZE);
  const zeros5 = new Uint8Array(5);
  const aead = suite.aead === 'AES-128-GCM' ? gcm : chacha20poly1305;
  const mask = suite.aead === 'AES-128-GCM'
    ? (sample: Uint8Array): Uint8Array => ecb(hpKey, { disablePadding: true }).encrypt(sample).subarray(0, 5)
    : (sample: Uint8Array): Uint8Array => chacha20(hpKey, sample.subarray(4), zeros5, undefined,
      ((sample[0] as number) | ((sample[1] as number) << 8) | ((sample[2] as number) << 16) | ((sample[3] as number) << 24)) >>> 0);
  const sealedBare = aead(key, nonce, aad).encrypt(payload);

  let pn = 1000;
  const header = { type: '1rtt', dcid: DCID } as const;
  const wire = await sealPacket(keys, header, payload, { packetNumber: pn, pnLength: PN_LENGTH });
  const scratch = new Uint8Array(wire.length);

  return {
    seal: {
      bare: () => {
        const ct = aead(key, nonce, aad).encrypt(payload);
        mask(ct.subarray(4 - PN_LENGTH, 4 - PN_LENGTH + 16));
      },
      layer: async () => {
        await sealPacket(keys, header, payload, { packetNumber: ++pn, pnLength: PN_LENGTH });
      },
    },
    open: {
      // Both restore the packet first: opening unmasks the header in place.
      bare: () => {
        scratch.set(wire);
        mask(sealedBare.subarray(2, 18));
        aead(key, nonce, aad).decrypt(sealedBare);
      },
      layer: async () => {
        scratch.set(wire);
        const { packet } = parsePacket(scratch, 0, { shortDcidLength: DCID.length });
        const opened = await openPacket(keys, packet as ProtectedPacket, 999);
        if (!opened) throw new Error('bench packet failed to open');
      },
    },
  };
}

/** Runs the benchmark and returns a markdown table. */
export async function run(): Promise<string> {
  const rows: string[] = [
    `QUIC packet protection, ${PACKET_SIZE}-byte 1-RTT packets, header protection included; median of ${ROUNDS} rounds × ${PACKETS_PER_ROUND} packets.`,
    '',
    '| suite | operation | bare noble (pkt/s) | bare noble (MB/s) | pqtls quic (pkt/s) | pqtls quic (MB/s) | overhead |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, suite] of [['AES-128-GCM', AES_128_GCM_SHA256], ['ChaCha20-Poly1305', CHACHA20_POLY1305_SHA256]] as const) {
    const pairs = await pairsFor(suite);
    for (const [op, pair] of [['protect', pairs.seal], ['unprotect', pairs.open]] as const) {
      await time(pair.bare, 200); // warm-up
      await time(pair.layer, 200);
      const bare: number[] = [];
      const layer: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        // Interleaved so that both see the same machine state.
        bare.push(await time(pair.bare, PACKETS_PER_ROUND));
        layer.push(await time(pair.layer, PACKETS_PER_ROUND));
      }
      const b = PACKETS_PER_ROUND / median(bare);
      const l = PACKETS_PER_ROUND / median(layer);
      const mb = (pps: number): string => ((pps * PACKET_SIZE) / 1e6).toFixed(1);
      rows.push(`| ${name} | ${op} | ${Math.round(b)} | ${mb(b)} | ${Math.round(l)} | ${mb(l)} | ${(((b / l) - 1) * 100).toFixed(1)}% |`);
    }
  }
  return rows.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await run());
}
