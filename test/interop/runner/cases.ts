/**
 * The QUIC interop runner's test cases (github.com/quic-interop/quic-interop-runner,
 * testcases.py), run on loopback through the impairment relay. Each case says
 * what the server serves, what the client asks for and how, what the relay
 * does to the traffic, and what is checked afterwards besides the files
 * themselves (which are always compared by SHA-256): what the runner reads off
 * its packet trace, read here off the relay's (long headers in the clear,
 * 1-RTT packets opened with the client's key log).
 */
import type { Direction, Impairment, UdpRelay } from '../../helpers/udp-relay.js';
import { QUIC_V2_NUMBER, hex } from '../../helpers/quic-wire.js';
import type { ClientLaunch, Feature } from './implementations.js';
import { openOneRtt, readKeyLog } from './onertt.js';
import type { ServerCert } from './pki.js';

export const CASE_NAMES = [
  'handshake', 'transfer', 'multiplexing', 'chacha20', 'retry', 'resumption', 'zerortt', 'http3', 'amplificationlimit',
  'keyupdate', 'v2', 'versionnegotiation', 'handshakeloss', 'transferloss', 'handshakecorruption', 'transfercorruption',
  'longrtt', 'blackhole', 'rebind-port', 'rebind-addr', 'connectionmigration',
] as const;
export type CaseName = (typeof CASE_NAMES)[number];

/** What a check sees once the client has exited. */
export interface Observed {
  readonly relay: UdpRelay;
  readonly cert: ServerCert;
  /** The client's key log (NSS format). */
  readonly keylogFile: string;
  /** Names of the relay actions (rebinding, blackout) that ran. */
  readonly actions: readonly string[];
}

export interface CaseSpec {
  readonly name: CaseName;
  /** One line for the matrix legend. */
  readonly summary: string;
  readonly features: readonly Feature[];
  /** Sizes of the files served and fetched, in bytes. */
  readonly files: readonly number[];
  readonly mode: ClientLaunch['mode'];
  readonly longChain?: boolean;
  readonly server?: { readonly retry?: boolean; readonly earlyData?: boolean; readonly preferV2?: boolean };
  readonly client?: { readonly chacha20?: boolean; readonly keyUpdate?: boolean; readonly version?: 'v2' | 'vn'; readonly migrate?: boolean };
  readonly impair?: Partial<Record<Direction, Impairment>>;
  /** Sets up relay actions; `record` names each one when it runs. `total` is the bytes of all files. */
  readonly schedule?: (relay: UdpRelay, total: number, record: (action: string) => void) => void;
  /** Keep 1-RTT datagrams for a check that opens them. */
  readonly opensOneRtt?: boolean;
  /** Time for the client to finish, and so for the case. */
  readonly timeoutMs: number;
  /** Problems found on the wire (empty: none). */
  readonly check?: (o: Observed) => string[];
}

const KB = 1024;
const MB = 1024 * 1024;

/** Connections the server took part in: its long-header packets grouped by its source connection ID. */
export function serverConnections(relay: UdpRelay): { scid: string; handshakeBytes: number; versions: Set<number>; firstSeen: number }[] {
  const byScid = new Map<string, { scid: string; handshakeBytes: number; versions: Set<number>; firstSeen: number }>();
  for (const r of relay.records) {
    if (r.dir !== 'toClient') continue;
    for (const p of r.packets) {
      if (p.form !== 'long' || (p.type !== 'initial' && p.type !== 'handshake')) continue;
      const scid = hex(p.scid);
      let c = byScid.get(scid);
      if (!c) {
        c = { scid, handshakeBytes: 0, versions: new Set(), firstSeen: r.t };
        byScid.set(scid, c);
      }
      c.versions.add(p.version);
      if (p.type === 'handshake') c.handshakeBytes += p.size;
    }
  }
  return [...byScid.values()].filter((c) => c.handshakeBytes > 0).sort((a, b) => a.firstSeen - b.firstSeen);
}

function sentByServer(relay: UdpRelay, type: string): number {
  return relay.records.filter((r) => r.dir === 'toClient' && r.packets.some((p) => p.form === 'long' && p.type === type)).length;
}

function expectConnections(o: Observed, n: number, exact = true): string[] {
  const got = serverConnections(o.relay).length;
  return (exact ? got === n : got >= n) ? [] : [`expected ${exact ? '' : 'at least '}${n} handshake(s) on the wire, saw ${got}`];
}

/** RFC 8446 §4.6.1 / §2.2: a resumed handshake has no Certificate, so the server's Handshake packets carry less than the chain. */
function resumedWithoutCertificate(o: Observed): string[] {
  const conns = serverConnections(o.relay);
  if (conns.length < 2) return [`expected two handshakes on the wire, saw ${conns.length}`];
  const first = conns[0] as (typeof conns)[number];
  const second = conns[conns.length - 1] as (typeof conns)[number];
  const problems: string[] = [];
  if (first.handshakeBytes < o.cert.chainBytes) {
    problems.push(`the first handshake carried ${first.handshakeBytes} Handshake bytes, less than the ${o.cert.chainBytes}-byte chain: cannot tell a Certificate apart`);
  }
  if (second.handshakeBytes >= o.cert.chainBytes) {
    problems.push(`the second handshake carried ${second.handshakeBytes} Handshake bytes, room for the ${o.cert.chainBytes}-byte chain: not resumed`);
  }
  return problems;
}

function keyPhases(o: Observed): string[] {
  const secrets = readKeyLog(o.keylogFile);
  if (secrets.client.length === 0) return [`no traffic secrets in the client's key log ${o.keylogFile}`];
  const problems: string[] = [];
  for (const [dir, list, who] of [['toServer', secrets.client, 'client'], ['toClient', secrets.server, 'server']] as const) {
    const opened = openOneRtt(o.relay.shortRecords.filter((r) => r.dir === dir), list);
    if (opened.length === 0) problems.push(`no ${who} 1-RTT packet could be opened with the key log`);
    else if (!opened.some((p) => p.generation >= 1)) problems.push(`the ${who} never used the next key phase (${opened.length} packets, all in generation 0)`);
  }
  return problems;
}

function cipherOnWire(o: Observed, suite: string): string[] {
  const secrets = readKeyLog(o.keylogFile);
  const opened = openOneRtt(o.relay.shortRecords.filter((r) => r.dir === 'toClient'), secrets.server);
  if (opened.length === 0) return ['no server 1-RTT packet could be opened with the key log'];
  const other = opened.find((p) => p.suite !== suite);
  return other ? [`1-RTT packets protected with ${other.suite}, not ${suite}`] : [];
}

/** Runs `action` once the server has sent `fraction` of the files' bytes toward the client. */
function atProgress(relay: UdpRelay, total: number, fraction: number, action: () => void): void {
  relay.when(() => relay.counters.toClient.deliveredBytes >= total * fraction, action);
}

const HANDSHAKES = 50;

export const CASES: readonly CaseSpec[] = [
  {
    name: 'handshake', summary: 'one handshake, one small file', features: [], files: [KB], mode: 'single', timeoutMs: 30_000,
    check: (o) => expectConnections(o, 1),
  },
  {
    name: 'transfer', summary: '2 + 3 + 5 MB on concurrent streams, flow-control windows (≤ 1 MiB) that must grow',
    features: [], files: [2 * MB, 3 * MB, 5 * MB], mode: 'single', timeoutMs: 90_000, check: (o) => expectConnections(o, 1),
  },
  {
    name: 'multiplexing', summary: '2000 small files on one connection, at most 100 streams at once (MAX_STREAMS)',
    features: [], files: new Array<number>(2000).fill(32), mode: 'single', timeoutMs: 60_000, check: (o) => expectConnections(o, 1),
  },
  {
    name: 'chacha20', summary: 'the client offers only TLS_CHACHA20_POLY1305_SHA256', features: ['chacha20'], files: [KB], mode: 'single',
    client: { chacha20: true }, opensOneRtt: true, timeoutMs: 30_000, check: (o) => cipherOnWire(o, 'TLS_CHACHA20_POLY1305_SHA256'),
  },
  {
    name: 'retry', summary: 'the server validates the address with a Retry', features: ['retry'], files: [KB], mode: 'single',
    server: { retry: true }, timeoutMs: 30_000,
    check: (o) => (sentByServer(o.relay, 'retry') ? [] : ['no Retry packet on the wire']),
  },
  {
    name: 'resumption', summary: 'a second connection resumes the first one\'s session (no Certificate)', features: ['resumption'],
    files: [KB, KB, KB], mode: 'resumption', timeoutMs: 30_000, check: resumedWithoutCertificate,
  },
  {
    name: 'zerortt', summary: 'the resumed connection sends its requests in 0-RTT packets', features: ['resumption', 'zerortt'],
    files: [KB, KB, KB, KB, KB], mode: 'zerortt', server: { earlyData: true }, timeoutMs: 30_000,
    check: (o) => {
      const zeroRtt = o.relay.records.filter((r) => r.dir === 'toServer' && r.fate !== 'dropped' && r.packets.some((p) => p.form === 'long' && p.type === '0rtt'));
      return [...resumedWithoutCertificate(o), ...(zeroRtt.length ? [] : ['the client sent no 0-RTT packet'])];
    },
  },
  {
    name: 'http3', summary: 'HTTP/3 (ALPN h3) instead of hq-interop', features: ['h3'], files: [5 * KB, 10 * KB, 500 * KB], mode: 'single',
    timeoutMs: 30_000, check: (o) => expectConnections(o, 1),
  },
  {
    name: 'amplificationlimit', summary: '9-certificate chain, client datagrams 2–7 lost: server sends ≤ 3× what it received before validation',
    features: ['no-retry'], files: [KB], mode: 'single', longChain: true, impair: { toServer: { dropIndices: [2, 3, 4, 5, 6, 7] } }, timeoutMs: 30_000,
    check: (o) => {
      const m = o.relay.mappings[0];
      if (!m) return ['no client datagram reached the relay'];
      if (!m.validated) return ['no client Handshake packet reached the server'];
      const limit = 3 * m.toServerBeforeValidation;
      return m.toClientBeforeValidation <= limit ? [] : [
        `the server sent ${m.toClientBeforeValidation} bytes before the client's address was validated, more than 3 × ${m.toServerBeforeValidation} received (RFC 9000 §8.1)`,
      ];
    },
  },
  {
    name: 'keyupdate', summary: 'the client updates its 1-RTT keys (RFC 9001 §6); both sides move to the next key phase',
    features: ['keyupdate'], files: [3 * MB], mode: 'single', client: { keyUpdate: true }, opensOneRtt: true, timeoutMs: 60_000,
    check: keyPhases,
  },
  {
    name: 'v2', summary: 'the connection ends up in QUIC version 2 (RFC 9369)', features: ['v2'], files: [KB], mode: 'single',
    server: { preferV2: true }, client: { version: 'v2' }, timeoutMs: 30_000,
    check: (o) => {
      const conns = serverConnections(o.relay);
      const handshakeVersions = new Set(o.relay.records.filter((r) => r.dir === 'toClient').flatMap((r) => r.packets)
        .flatMap((p) => (p.form === 'long' && p.type === 'handshake' ? [p.version] : [])));
      if (conns.length !== 1) return [`expected one handshake, saw ${conns.length}`];
      return handshakeVersions.size === 1 && handshakeVersions.has(QUIC_V2_NUMBER)
        ? [] : [`the server's Handshake packets used version(s) ${[...handshakeVersions].map((v) => `0x${v.toString(16)}`).join(', ')}, not v2`];
    },
  },
  {
    name: 'versionnegotiation', summary: 'the client starts with an unsupported version; Version Negotiation, then v1',
    features: ['versionnegotiation'], files: [KB], mode: 'single', client: { version: 'vn' }, timeoutMs: 30_000,
    check: (o) => (sentByServer(o.relay, 'version-negotiation') ? expectConnections(o, 1) : ['no Version Negotiation packet on the wire']),
  },
  {
    name: 'handshakeloss', summary: `${HANDSHAKES} connections, 30% loss each way in bursts of ≤ 3`, features: ['multiconnect'],
    files: new Array<number>(HANDSHAKES).fill(KB), mode: 'multiconnect', timeoutMs: 180_000,
    impair: { toServer: { dropRate: 0.3, maxBurst: 3 }, toClient: { dropRate: 0.3, maxBurst: 3 } },
    check: (o) => expectConnections(o, HANDSHAKES, false),
  },
  {
    name: 'transferloss', summary: '2% loss each way during a transfer', features: [], files: [MB], mode: 'single', timeoutMs: 60_000,
    impair: { toServer: { dropRate: 0.02 }, toClient: { dropRate: 0.02 } },
    check: (o) => (o.relay.counters.toClient.dropped > 0 ? [] : ['the relay dropped nothing']),
  },
  {
    name: 'handshakecorruption', summary: `${HANDSHAKES} connections, 30% of datagrams corrupted each way`, features: ['multiconnect'],
    files: new Array<number>(HANDSHAKES).fill(KB), mode: 'multiconnect', timeoutMs: 180_000,
    impair: { toServer: { corruptRate: 0.3 }, toClient: { corruptRate: 0.3 } },
    check: (o) => expectConnections(o, HANDSHAKES, false),
  },
  {
    name: 'transfercorruption', summary: '2% of datagrams corrupted each way during a transfer', features: [], files: [MB], mode: 'single',
    timeoutMs: 60_000, impair: { toServer: { corruptRate: 0.02 }, toClient: { corruptRate: 0.02 } },
    check: (o) => (o.relay.counters.toClient.corrupted > 0 ? [] : ['the relay corrupted nothing']),
  },
  {
    name: 'longrtt', summary: '750 ms one-way delay (1.5 s RTT)', features: [], files: [KB, KB], mode: 'single', timeoutMs: 45_000,
    impair: { toServer: { delayMs: 750 }, toClient: { delayMs: 750 } }, check: (o) => expectConnections(o, 1),
  },
  {
    name: 'blackhole', summary: 'two 2 s outages (everything dropped) during a 3 MB transfer', features: [], files: [3 * MB], mode: 'single',
    timeoutMs: 60_000,
    schedule: (relay, total, record) => {
      for (const at of [0.25, 0.6]) atProgress(relay, total, at, () => {
        relay.blackout(2000);
        record(`blackout at ${at * 100}%`);
      });
    },
    check: (o) => (o.actions.length === 2 ? [] : [`${o.actions.length} of 2 blackouts happened`]),
  },
  ...(['port', 'address'] as const).map((kind): CaseSpec => ({
    name: kind === 'port' ? 'rebind-port' : 'rebind-addr',
    summary: `a NAT rebinds the client's ${kind} three times during a 3 MB transfer; the old mapping stops forwarding`,
    features: ['rebinding'], files: [3 * MB], mode: 'single', timeoutMs: 60_000,
    schedule: (relay, total, record) => {
      for (const at of [0.2, 0.45, 0.7]) atProgress(relay, total, at, () => {
        void relay.rebind(kind).then(() => record(`rebind ${kind} at ${at * 100}%`));
      });
    },
    check: (o) => {
      const m = o.relay.mappings[0];
      const problems = o.actions.length === 3 ? [] : [`${o.actions.length} of 3 rebindings happened`];
      const used = [...(m?.shortHeaderFrom.keys() ?? [])];
      if (used.length < 4) problems.push(`1-RTT packets reached the server from ${used.length} of the 4 client addresses`);
      return problems;
    },
  })),
  {
    name: 'connectionmigration', summary: 'the client moves to a new local address after the handshake (active migration)',
    features: ['migration'], files: [3 * MB], mode: 'single', client: { migrate: true }, timeoutMs: 60_000,
    check: (o) => {
      const from = o.relay.mappings.filter((m) => m.shortHeaderFrom.size > 0).length;
      return from >= 2 ? [] : [`1-RTT packets came from ${from} client address(es), expected a second one after migration`];
    },
  },
];

export function caseByName(name: CaseName): CaseSpec {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name}`);
  return c;
}
