/**
 * TLS 1.3 session resumption against full handshakes, in memory (two
 * TlsConnections and a pump, as bench/tls-handshake.ts does):
 *
 * - full: X25519MLKEM768 key exchange, ML-DSA-65 chain of two (root + leaf)
 *   validated by webPkiVerifier, ML-DSA-65 CertificateVerify;
 * - resumed psk_dhe_ke (RFC 8446 §4.2.9, our default): a ticket from the
 *   previous connection plus a fresh X25519MLKEM768 exchange; no certificate,
 *   no signature;
 * - resumed psk_ke: the ticket alone, no key exchange (no forward secrecy;
 *   opt-in on both sides).
 *
 * The server is the same in all three (tickets on, two per handshake, both
 * PSK modes allowed), so each handshake pays for issuing its tickets too.
 * Each side's provider is wrapped in a timing proxy, so the output also shows
 * how much of each handshake is spent inside the primitives, and which one
 * dominates. Modes run in interleaved rounds; figures are medians over rounds,
 * ratios medians of the per-round ratios.
 *
 * Run alone: node --import tsx bench/tls-resumption.ts
 */
import { pathToFileURL } from 'node:url';
import { groupName } from '../src/pq/ids.js';
import { createNobleProvider } from '../src/pq/noble/index.js';
import type { ClientOptions, PskModeName, ServerOptions } from '../src/tls13/config.js';
import { TlsConnection } from '../src/tls13/connection.js';
import { MemorySessionStore } from '../src/tls13/session.js';
import { TicketKeyRing } from '../src/tls13/tickets.js';
import { webPkiVerifier } from '../src/tls13/verifier.js';
import { median } from './compare.js';
import { f1, f2, pct, timed, timedPump, type Side } from './side.js';
import { ProviderClock, timedProvider } from './timed-provider.js';
import { SERVER_NAME, mintPki } from './tls-fixtures.js';

const ROUNDS = 7;
const GROUP = 'X25519MLKEM768';

type Mode = 'full' | 'psk_dhe_ke' | 'psk_ke';
const MODES: readonly Mode[] = ['full', 'psk_dhe_ke', 'psk_ke'];
/** Handshakes per round, so that each mode gets a comparable slice of time. */
const PER_ROUND: Readonly<Record<Mode, number>> = { full: 20, psk_dhe_ke: 60, psk_ke: 150 };
const LABEL: Readonly<Record<Mode, string>> = {
  full: `full handshake (${GROUP}, ML-DSA-65 chain)`,
  psk_dhe_ke: `resumed, psk_dhe_ke (ticket + ${GROUP})`,
  psk_ke: 'resumed, psk_ke (ticket only)',
};


const f3 = (x: number): string => x.toFixed(3);


interface Setup {
  readonly client: Side;
  readonly server: Side;
  readonly serverOptions: ServerOptions;
  /** Client options per mode; the resumed modes each keep their own store, refilled by every handshake's tickets. */
  readonly clientOptions: Readonly<Record<Mode, ClientOptions>>;
}

async function setup(): Promise<Setup> {
  const serverProvider = createNobleProvider();
  const pki = await mintPki(serverProvider);
  const client: Side = { ms: 0, clock: new ProviderClock() };
  const server: Side = { ms: 0, clock: new ProviderClock() };
  const clientProvider = timedProvider(createNobleProvider(), client.clock);
  const timedServerProvider = timedProvider(serverProvider, server.clock);
  const now = (): number => pki.now;
  const base: ClientOptions = {
    provider: clientProvider, now, serverName: SERVER_NAME, groups: [GROUP], keyShareGroups: [GROUP],
    verifier: webPkiVerifier({ provider: clientProvider, trustAnchors: [pki.rootDer] }),
  };
  const resuming = (pskModes: PskModeName[]): ClientOptions => ({ ...base, sessionStore: new MemorySessionStore(), pskModes });
  return {
    client, server,
    serverOptions: {
      provider: timedServerProvider, now, groups: [GROUP], certificate: pki.certificate,
      tickets: { sealer: await TicketKeyRing.create(timedServerProvider) }, pskModes: ['psk_dhe_ke', 'psk_ke'],
    },
    clientOptions: { full: base, psk_dhe_ke: resuming(['psk_dhe_ke']), psk_ke: resuming(['psk_ke']) },
  };
}

/**
 * One handshake with its tickets delivered; throws unless it went the way
 * `mode` says (`priming`: the resumed modes' first, full handshake, which fills their store).
 */
async function handshake(s: Setup, mode: Mode, priming = false): Promise<void> {
  const server = await timed(s.server, () => TlsConnection.server(s.serverOptions));
  const client = await timed(s.client, () => TlsConnection.client(s.clientOptions[mode]));
  await timedPump(client, s.client, server, s.server);
  const info = client.handshakeInfo;
  if (!info || !server.handshakeInfo) {
    throw new Error(`${mode} handshake failed: ${client.error?.message ?? server.error?.message ?? 'did not complete'}`);
  }
  const group = info.group === undefined ? 'none' : groupName(info.group);
  const expected = { full: [false, GROUP], psk_dhe_ke: [true, GROUP], psk_ke: [true, 'none'] }[mode];
  if (!priming && (info.resumed !== expected[0] || group !== expected[1])) {
    throw new Error(`${mode}: resumed=${info.resumed} group=${group}, expected resumed=${String(expected[0])} group=${String(expected[1])}`);
  }
}

interface Round {
  readonly handshakesPerSecond: number;
  readonly cpuMs: number;
  readonly clientMs: number;
  readonly serverMs: number;
  readonly providerMs: number;
  /** `side: primitive` → ms per handshake. */
  readonly primitives: Map<string, number>;
}

async function round(s: Setup, mode: Mode): Promise<Round> {
  const n = PER_ROUND[mode];
  s.client.ms = 0;
  s.server.ms = 0;
  s.client.clock.reset();
  s.server.clock.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await handshake(s, mode);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const primitives = new Map<string, number>();
  for (const [side, clock] of [['client', s.client.clock], ['server', s.server.clock]] as const) {
    for (const [name, st] of clock.primitives) primitives.set(`${side}: ${name}`, st.ms / n);
  }
  return {
    handshakesPerSecond: n / seconds,
    cpuMs: (cpu.user + cpu.system) / 1000 / n,
    clientMs: s.client.ms / n,
    serverMs: s.server.ms / n,
    providerMs: (s.client.clock.totalMs + s.server.clock.totalMs) / n,
    primitives,
  };
}

/** The costliest provider entry of a mode (median ms per handshake over rounds). */
function topPrimitive(rounds: readonly Round[]): { name: string; ms: number } {
  const names = new Set(rounds.flatMap((r) => [...r.primitives.keys()]));
  return [...names]
    .map((name) => ({ name, ms: median(rounds.map((r) => r.primitives.get(name) ?? 0)) }))
    .sort((a, b) => b.ms - a.ms)[0] ?? { name: 'none', ms: 0 };
}

/** Runs the benchmark and returns markdown tables. */
export async function run(): Promise<string> {
  const s = await setup();
  // The first tickets for the resumed modes, then a warm-up.
  for (const mode of MODES) await handshake(s, mode, true);
  for (const mode of MODES) for (let i = 0; i < 3; i++) await handshake(s, mode);

  const rounds: Record<Mode, Round[]> = { full: [], psk_dhe_ke: [], psk_ke: [] };
  for (let r = 0; r < ROUNDS; r++) for (const mode of MODES) rounds[mode].push(await round(s, mode));

  const med = (mode: Mode, f: (r: Round) => number): number => median(rounds[mode].map(f));
  /** Median over rounds of (mode's handshakes/s ÷ full's handshakes/s) in the same round. */
  const speedup = (mode: Mode): number =>
    median(rounds[mode].map((r, i) => r.handshakesPerSecond / ((rounds.full[i] as Round).handshakesPerSecond)));

  const out: string[] = [
    `TLS 1.3 in memory, full handshakes against resumed ones (RFC 8446 §2.2), ${GROUP} where there is a key exchange, ` +
      `ML-DSA-65 chain of two validated by webPkiVerifier on full handshakes; the server issues two tickets per handshake. ` +
      `Median of ${ROUNDS} interleaved rounds (${MODES.map((m) => `${m} ${PER_ROUND[m]}`).join(', ')} handshakes per round). ` +
      `Node ${process.versions.node}.`,
    '',
    '| handshake | handshakes/s | × full | process CPU ms / handshake (both sides) | client ms | server ms | provider share |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const mode of MODES) {
    const client = med(mode, (r) => r.clientMs);
    const server = med(mode, (r) => r.serverMs);
    out.push(
      `| ${LABEL[mode]} | ${f1(med(mode, (r) => r.handshakesPerSecond))} | ${mode === 'full' ? '1.00' : f2(speedup(mode))} | ` +
        `${f2(med(mode, (r) => r.cpuMs))} | ${f2(client)} | ${f2(server)} | ${pct(med(mode, (r) => r.providerMs / (r.clientMs + r.serverMs)))} |`,
    );
  }
  out.push(
    '',
    `"× full" is the median of the per-round ratios to the full handshake's rate. psk_ke manages ` +
      `${f2(median(rounds.psk_ke.map((r, i) => r.handshakesPerSecond / (rounds.psk_dhe_ke[i] as Round).handshakesPerSecond)))}× ` +
      'the rate of psk_dhe_ke: the price of keeping forward secrecy and the hybrid key exchange on resumption. ' +
      `Even with psk_ke the client still generates an ${GROUP} share: it sends supported_groups so the server can fall back ` +
      'to a full handshake, and then key_share must come too (RFC 8446 §9.2).',
    '',
    'The costliest provider call per handshake (median ms, summed over the calls of one handshake):',
    '',
    '| handshake | side: primitive | ms per handshake |',
    '| --- | --- | ---: |',
    ...MODES.map((mode) => {
      const top = topPrimitive(rounds[mode]);
      return `| ${mode} | ${top.name} | ${f3(top.ms)} |`;
    }),
  );
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await run());
}
