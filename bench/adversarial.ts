/**
 * What a hostile peer can make a server (or a client) spend: each flood of
 * issue 9 is built in full before the clock starts, then handed to the
 * victim's sans-IO engine, and the victim's CPU time is divided by the bytes
 * the attacker sent. The yardstick is an honest full handshake: the server's
 * CPU per byte of a ClientHello (TLS) and of the client's first Initial
 * datagram (QUIC), X25519MLKEM768 with an ML-DSA-65 chain of two. Goal: no
 * flood costs more per attacker byte than that.
 *
 * Every victim runs in this process, so process CPU time is the victim's
 * (the attacker's packets are sealed beforehand). Figures are medians over
 * rounds; each row also says how the victim ended the flood.
 *
 * Run alone: node --import tsx bench/adversarial.ts
 */
import { concat } from '../src/bytes.js';
import { createNobleProvider } from '../src/pq/noble/index.js';
import type { CryptoProvider } from '../src/pq/provider.js';
import { seededRandom } from '../src/testing/index.js';
import { QuicConnection } from '../src/quic/connection/connection.js';
import { openFirstInitial } from '../src/quic/first-initial.js';
import type { Frame } from '../src/quic/frames/types.js';
import { ContentType } from '../src/tls13/constants.js';
import { TlsConnection } from '../src/tls13/connection.js';
import { encodeNewSessionTicket } from '../src/tls13/messages/psk.js';
import { encodeRecord } from '../src/tls13/record-layer.js';
import { MemorySessionStore } from '../src/tls13/session.js';
import { webPkiVerifier } from '../src/tls13/verifier.js';
import { attackerInitials, established, groups } from '../test/helpers/quic-attacker.js';
import { connectedWithPeerKeys, keyed } from '../test/helpers/tls-attacker.js';
import { clock } from '../test/helpers/tls-pair.js';
import { E_MAX, counting, lookAlikes, rsaPublicKey } from '../test/helpers/x509-attacker.js';
import { NOW as X509_NOW, makeChain } from '../test/x509/pki.js';
import { RSA_MAX_VERIFY_BITS, verifyChain } from '../src/x509/index.js';
import { median } from './compare.js';
import { f1, f2 } from './side.js';
import { SERVER_NAME, mintPki } from './tls-fixtures.js';

const ROUNDS = 5;

/** One flood, ready to fire: `fire` hands the pre-built bytes to the victim and says how it ended. */
interface Armed {
  readonly bytes: number;
  readonly fire: () => Promise<string>;
}

interface Attack {
  readonly name: string;
  readonly issueItem: string;
  readonly arm: (round: number) => Promise<Armed>;
}

/** CPU microseconds (user + system) that `f` costs this process. */
async function cpu<T>(f: () => Promise<T>): Promise<{ us: number; value: T }> {
  const t0 = process.cpuUsage();
  const value = await f();
  const d = process.cpuUsage(t0);
  return { us: d.user + d.system, value };
}

function outcome(c: { readonly error?: { readonly message: string } | undefined }): string {
  return c.error ? `closed: ${c.error.message.slice(0, 60)}` : 'still open';
}

// ---- the yardsticks: an honest handshake's first flight ----

async function tlsClientHelloCost(provider: CryptoProvider): Promise<{ bytes: number; us: number }> {
  const pki = await mintPki(provider);
  const server = TlsConnection.server({ provider, now: () => pki.now, certificate: pki.certificate });
  const client = await TlsConnection.client({
    provider, now: () => pki.now, serverName: SERVER_NAME,
    verifier: webPkiVerifier({ provider, trustAnchors: [pki.rootDer] }),
  });
  const ch = client.takeOutput();
  const { us } = await cpu(async () => {
    await server.receive(ch);
    server.takeOutput();
  });
  if (server.error) throw new Error(`baseline handshake failed: ${server.error.message}`);
  return { bytes: ch.length, us };
}

async function quicInitialCost(provider: CryptoProvider): Promise<{ bytes: number; us: number }> {
  const pki = await mintPki(provider);
  const tls = { provider, now: () => pki.now, alpnProtocols: ['bench'] };
  const client = await QuicConnection.connect({ tls: { ...tls, serverName: SERVER_NAME, verifier: webPkiVerifier({ provider, trustAnchors: [pki.rootDer] }) } }, 0);
  const first: Uint8Array[] = [];
  for (let d = (await client.pollTransmit(0))?.data; d; d = (await client.pollTransmit(0))?.data) first.push(d);
  const [head, ...rest] = first;
  if (!head) throw new Error('no client Initial');
  const { us } = await cpu(async () => {
    const server = await QuicConnection.accept({ tls: { ...tls, certificate: pki.certificate } }, head, 0);
    for (const d of rest) await server.handleDatagram(d, 0);
    while ((await server.pollTransmit(1))?.data);
  });
  return { bytes: first.reduce((n, d) => n + d.length, 0), us };
}

// ---- the floods ----

const N = 1000;

const tlsAttacks: Attack[] = [
  {
    name: 'KeyUpdate(update_requested) flood, 1000 records',
    issueItem: 'B.10',
    async arm(round) {
      const { client, server } = await connectedWithPeerKeys(`ku-${round}`);
      for (let i = 0; i < N; i++) await client.keyUpdate(true);
      const wire = client.takeOutput();
      return { bytes: wire.length, fire: async () => (await server.receive(wire), outcome(server)) };
    },
  },
  {
    name: 'empty application_data records, 1000',
    issueItem: 'B.10',
    async arm(round) {
      const { server, asClient } = await connectedWithPeerKeys(`empty-${round}`);
      const recs: Uint8Array[] = [];
      for (let i = 0; i < N; i++) recs.push(await asClient.seal(ContentType.application_data, new Uint8Array(0)));
      const wire = concat(...recs);
      return { bytes: wire.length, fire: async () => (await server.receive(wire), outcome(server)) };
    },
  },
  {
    name: 'change_cipher_spec before ClientHello, 1000',
    issueItem: 'B.10',
    async arm(round) {
      const { provider, key } = await keyed(`ccs-${round}`);
      const server = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
      const ccs = encodeRecord(ContentType.change_cipher_spec, new Uint8Array([1]));
      const wire = concat(...Array.from({ length: N }, () => ccs));
      return { bytes: wire.length, fire: async () => (await server.receive(wire), outcome(server)) };
    },
  },
  {
    name: 'user_canceled warning alerts before ClientHello, 1000',
    issueItem: 'B.10',
    async arm(round) {
      const { provider, key } = await keyed(`warn-${round}`);
      const server = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
      const alert = encodeRecord(ContentType.alert, new Uint8Array([1, 90]));
      const wire = concat(...Array.from({ length: N }, () => alert));
      return { bytes: wire.length, fire: async () => (await server.receive(wire), outcome(server)) };
    },
  },
  {
    name: 'NewSessionTicket flood at a client, 1000',
    issueItem: 'B.10',
    async arm(round) {
      const { client, asServer } = await connectedWithPeerKeys(`nst-${round}`, {}, { sessionStore: new MemorySessionStore(), serverName: 'example.test' });
      const recs: Uint8Array[] = [];
      for (let i = 0; i < N; i++) {
        const nst = encodeNewSessionTicket({ lifetime: 3600, ageAdd: i, nonce: new Uint8Array([i & 0xff, i >> 8]), ticket: new Uint8Array(64).fill(i & 0xff), extensions: [] });
        recs.push(await asServer.seal(ContentType.handshake, nst));
      }
      const wire = concat(...recs);
      return { bytes: wire.length, fire: async () => (await client.receive(wire), outcome(client)) };
    },
  },
  {
    name: '256 KiB ClientHello in 1-byte records',
    issueItem: 'B.11',
    async arm(round) {
      const { provider, key } = await keyed(`frag-${round}`);
      const server = TlsConnection.server({ provider, now: clock, certificate: { chain: [key.publicKey], ...key }, maxHandshakeMessageSize: 256 * 1024 });
      const body = 256 * 1024 - 4;
      // legacy_version 0x0303 then zeros: the message is reassembled whole before it is found malformed.
      const msg = concat(new Uint8Array([1, body >> 16, (body >> 8) & 0xff, body & 0xff, 3, 3]), new Uint8Array(body - 2));
      const wire = new Uint8Array(msg.length * 6);
      for (let i = 0; i < msg.length; i++) wire.set([22, 3, 3, 0, 1, msg[i] as number], i * 6);
      return { bytes: wire.length, fire: async () => (await server.receive(wire), outcome(server)) };
    },
  },
  {
    name: 'client chain of 7 look-alike RSA-8192 (e = 2^32−1) intermediates, attacker holding their key',
    issueItem: 'B.12',
    async arm() {
      const provider = createNobleProvider({ random: seededRandom('path') });
      const anchor = await makeChain(provider, ['ml-dsa-44', 'ml-dsa-44']);
      const signer = await provider.generateKeyPair('ed25519');
      const attack = await lookAlikes(provider, { algorithm: 'rsa', publicKey: rsaPublicKey(RSA_MAX_VERIFY_BITS, E_MAX) }, signer, RSA_MAX_VERIFY_BITS / 8);
      // Every signature "verifies" (the attacker holds the key) after the real, full-cost verification ran.
      const c = counting(provider, true);
      return {
        bytes: attack.intermediates.reduce((n, d) => n + d.length, attack.leaf.length),
        fire: async () => {
          const e = await verifyChain({
            provider: c.provider, leaf: attack.leaf, intermediates: attack.intermediates, trustAnchors: [anchor.root.certificate],
            now: X509_NOW, hostname: 'localhost', purpose: 'serverAuth',
          }).then(() => undefined, (err: unknown) => err);
          return `${c.calls.length} signature checks, then ${e instanceof Error ? e.message.slice(0, 40) : 'accepted'}`;
        },
      };
    },
  },
];

/** The server's side of a handshake an attacker opened with forged Initials (RFC 9001 §5.2: anyone can make Initial keys). */
async function initialFlood(seed: string, frames: Frame[]): Promise<Armed> {
  const { provider, key } = await keyed(seed);
  const seal = await attackerInitials(seed);
  const datagrams = await Promise.all(groups(frames).map((g) => seal(g)));
  const [head, ...rest] = datagrams;
  if (!head) throw new Error('empty flood');
  const opts = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['h'] } };
  return {
    bytes: datagrams.reduce((n, d) => n + d.length, 0),
    fire: async () => {
      const server = await QuicConnection.accept(opts, head, 0);
      for (const d of rest) {
        if (server.error) break;
        await server.handleDatagram(d, 1);
      }
      return outcome(server);
    },
  };
}

const crypto1 = (offset: number): Frame => ({ type: 'crypto', offset, data: new Uint8Array([offset & 0xff]) });

const quicAttacks: Attack[] = [
  {
    name: '1-byte CRYPTO frames at offsets 2, 4, 6, … in Initials (240 datagrams)',
    issueItem: 'B.4',
    async arm(round) {
      return initialFlood(`ooo-${round}`, Array.from({ length: 240 * 180 }, (_, i) => crypto1(2 * (i + 1))));
    },
  },
  {
    name: 'in-order 1-byte CRYPTO frames in Initials, 64 KiB',
    issueItem: 'B.11',
    async arm(round) {
      // A ClientHello header announcing 64 KiB, then its body one byte per frame.
      const frames: Frame[] = [{ type: 'crypto', offset: 0, data: new Uint8Array([1, 1, 0, 0, 3, 3]) }];
      for (let o = 6; o < 65_536; o++) frames.push(crypto1(o));
      return initialFlood(`ino-${round}`, frames);
    },
  },
  {
    name: 'junk datagrams with a v1 Initial header that do not decrypt, 2000',
    issueItem: 'B.5',
    async arm(round) {
      const provider = createNobleProvider({ random: seededRandom(`junk-${round}`) });
      const rnd = seededRandom(`junk-bytes-${round}`);
      const datagrams = Array.from({ length: 2000 }, () => {
        const d = rnd(1200);
        // Long header, Initial, version 1, DCID length 8, SCID length 8, no token, a length that fits.
        d.set([0xc3, 0, 0, 0, 1, 8], 0);
        d.set([8], 14);
        d.set([0, 0x44, 0xa0], 23);
        return d;
      });
      return {
        bytes: datagrams.length * 1200,
        fire: async () => {
          let opened = 0;
          for (const d of datagrams) if (await openFirstInitial(provider, d)) opened++;
          return `${opened} of ${datagrams.length} admitted`;
        },
      };
    },
  },
  {
    name: 'PATH_CHALLENGE flood on a connection, 1000 packets × 2',
    issueItem: 'B.6',
    async arm(round) {
      const c = await established(`pc-${round}`);
      const packets: Uint8Array[] = [];
      for (let i = 0; i < N; i++) {
        const data = new Uint8Array(8).fill(i & 0xff);
        packets.push(await c.seal([{ type: 'path_challenge', data }, { type: 'path_challenge', data: data.map((x) => x ^ 0xff) }]));
      }
      return {
        bytes: packets.reduce((n, d) => n + d.length, 0),
        fire: async () => {
          for (const p of packets) await c.deliver(p);
          let sent = 0;
          for (let d = (await c.server.pollTransmit(c.now))?.data; d; d = (await c.server.pollTransmit(c.now))?.data) sent++;
          return `${outcome(c.server)}, ${sent} datagrams queued in reply`;
        },
      };
    },
  },
  {
    name: 'PINGs never acknowledged, 1000 packets',
    issueItem: 'B.7',
    async arm(round) {
      const c = await established(`ping-${round}`);
      const packets: Uint8Array[] = [];
      for (let i = 0; i < N; i++) packets.push(await c.seal([{ type: 'ping' }]));
      return {
        bytes: packets.reduce((n, d) => n + d.length, 0),
        fire: async () => {
          for (const p of packets) {
            await c.deliver(p);
            while ((await c.server.pollTransmit(c.now))?.data);
          }
          return outcome(c.server);
        },
      };
    },
  },
  {
    name: '1-byte STREAM frames at offsets 2, 4, 6, … on one stream',
    issueItem: 'B.4 (class)',
    async arm(round) {
      const c = await established(`stream-${round}`);
      const frames: Frame[] = Array.from({ length: 20_000 }, (_, i) => ({ type: 'stream', streamId: 0, offset: 2 * (i + 1), fin: false, hasLength: true, data: new Uint8Array([1]) }));
      const packets = await Promise.all(groups(frames).map((g) => c.seal(g)));
      return {
        bytes: packets.reduce((n, d) => n + d.length, 0),
        fire: async () => {
          for (const p of packets) {
            if (c.server.error) break;
            await c.deliver(p);
          }
          return outcome(c.server);
        },
      };
    },
  },
];

interface Row {
  readonly attack: Attack;
  readonly bytes: number;
  readonly us: number;
  readonly outcome: string;
}

async function measure(attack: Attack): Promise<Row> {
  const samples: number[] = [];
  let bytes = 0;
  let end = '';
  for (let r = 0; r < ROUNDS; r++) {
    const armed = await attack.arm(r);
    const { us, value } = await cpu(armed.fire);
    samples.push(us);
    bytes = armed.bytes;
    end = value;
  }
  return { attack, bytes, us: median(samples), outcome: end };
}

export async function run(): Promise<string> {
  const provider = createNobleProvider();
  const tlsBase: number[] = [];
  const quicBase: number[] = [];
  let chBytes = 0;
  let initialBytes = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t = await tlsClientHelloCost(provider);
    const q = await quicInitialCost(provider);
    chBytes = t.bytes;
    initialBytes = q.bytes;
    tlsBase.push(t.us / t.bytes);
    quicBase.push(q.us / q.bytes);
  }
  const tlsYard = median(tlsBase);
  const quicYard = median(quicBase);
  const out: string[] = [
    `Server CPU per attacker byte, median of ${ROUNDS} rounds. Yardsticks (X25519MLKEM768, ML-DSA-65 chain of two, noble):`,
    `a ClientHello (${chBytes} B) costs the TLS server **${f2(tlsYard)} µs/B**; the client's first Initial datagrams (${initialBytes} B) cost the QUIC server **${f2(quicYard)} µs/B**.`,
    '',
    '| issue 9 | flood | attacker bytes | victim CPU ms | µs / attacker byte | × handshake | how the victim ended it |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  let worst = 0;
  for (const [attacks, yard] of [[tlsAttacks, tlsYard], [quicAttacks, quicYard]] as const) {
    for (const a of attacks) {
      const row = await measure(a);
      const perByte = row.us / row.bytes;
      worst = Math.max(worst, perByte / yard);
      out.push(`| ${a.issueItem} | ${a.name} | ${row.bytes} | ${f1(row.us / 1000)} | ${f2(perByte)} | ${f2(perByte / yard)} | ${row.outcome} |`);
    }
  }
  out.push('', `Worst flood: ${f2(worst)}× a handshake's CPU per attacker byte (goal: ≤ 1).`);
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
