/**
 * The QUAC 100 provider on the emulated card at its default rate (20,000
 * ML-KEM-768 operations/s, 30% of a call's time per-call overhead, 0.05 ms
 * bus latency; src/hw/quac100/emulated.ts).
 *
 * 1. Scheduling: N concurrent callers each run ML-KEM-768 encapsulations
 *    back to back through the provider, batched (the default batcher, 32
 *    items or 1 ms) and unbatched (`maxSize: 1`, one device call per
 *    operation). The emulator runs on a VirtualClock: the card's service
 *    times and the batcher's waits pass in simulated time, so operations per
 *    simulated second against the configured rate is the share of the card's
 *    capacity the provider's scheduling achieves, independent of the host.
 *    The emulator's arithmetic itself is noble on the host, far slower than
 *    the modelled card, so the real (wall-clock) rate of the same runs is
 *    reported beside it, and a real-clock run shows that bound directly.
 * 2. Handshakes: TLS 1.3 in memory, X25519MLKEM768 with an ML-DSA-65 chain of
 *    two; the server's provider is the QUAC provider (both ML-DSA keys made on
 *    the card, non-extractable; real clock) or noble, in interleaved rounds.
 *
 * Figures are medians over rounds. Run alone: node --import tsx bench/quac.ts
 */
import { pathToFileURL } from 'node:url';
import { realClock, VirtualClock, type QuacClock } from '../src/hw/quac100/clock.js';
import type { QuacDevice } from '../src/hw/quac100/device.js';
import { EmulatedQuacLibrary } from '../src/hw/quac100/emulated.js';
import { createQuacProvider, type QuacProvider } from '../src/hw/quac100/provider.js';
import { groupName, NamedGroup, signatureSchemeName } from '../src/pq/ids.js';
import { createNobleProvider } from '../src/pq/noble/index.js';
import type { CryptoProvider } from '../src/pq/provider.js';
import { seededRandom } from '../src/testing/index.js';
import { TlsConnection } from '../src/tls13/connection.js';
import { webPkiVerifier } from '../src/tls13/verifier.js';
import { median } from './compare.js';
import { f1, f2, pct } from './side.js';
import { SERVER_NAME, mintPki, type BenchPki } from './tls-fixtures.js';

/** The emulator's defaults, restated so the table can name the capacity and the batched ceiling. */
const RATE = 20_000;
const CALL_OVERHEAD = 0.3;
const CALLERS = [1, 8, 64, 256] as const;
const BATCH_MAX = 32;
const THROUGHPUT_ROUNDS = 3;
/** Operations per throughput run: eight full rounds of the largest caller count. */
const OPS = 2048;
const REAL_CALLERS = 64;
const REAL_OPS = 512;
const HANDSHAKE_ROUNDS = 5;
const SEQUENTIAL_PER_ROUND = 10;
const CONCURRENT = 16;
const CONCURRENT_PER_ROUND = 32;
const GROUP = 'X25519MLKEM768';

// ---- 1. scheduling: encapsulations per simulated second ----

interface ThroughputRun {
  /** Operations per simulated second (the clock the card's model runs on). */
  readonly simulatedOpsPerSecond: number;
  /** Operations per wall-clock second of the same run. */
  readonly realOpsPerSecond: number;
  /** Share of simulated time the engine was busy. */
  readonly engineBusy: number;
  readonly meanBatch: number;
  readonly cpuMsPerOp: number;
}

async function quacOn(clock: QuacClock, batched: boolean, seed: string): Promise<QuacProvider> {
  const library = new EmulatedQuacLibrary({ clock, random: seededRandom(`${seed}/qrng`) });
  return createQuacProvider({
    library, clock, keyPool: false,
    batch: batched ? undefined : { maxSize: 1 },
    software: createNobleProvider({ random: seededRandom(`${seed}/soft`) }),
  });
}

/** `callers` loops, each encapsulating to its own key until `ops` operations have been started in all. */
async function encapsulations(clock: QuacClock, batched: boolean, callers: number, ops: number): Promise<ThroughputRun> {
  const seed = `tp-${batched}-${callers}`;
  const quac = await quacOn(clock, batched, seed);
  const noble = createNobleProvider({ random: seededRandom(`${seed}/keys`) });
  const keys = await Promise.all(Array.from({ length: Math.min(callers, 16) }, () => noble.keyExchange(NamedGroup.MLKEM768).generate()));
  const kx = quac.keyExchange(NamedGroup.MLKEM768);
  const before = quac.metrics();
  let started = 0;
  const caller = async (i: number): Promise<void> => {
    const share = (keys[i % keys.length] as (typeof keys)[number]).share;
    while (started < ops) {
      started++;
      await kx.encapsulate(share);
    }
  };
  const t0 = clock.now();
  const w0 = performance.now();
  const c0 = process.cpuUsage();
  await Promise.all(Array.from({ length: callers }, (_, i) => caller(i)));
  const cpu = process.cpuUsage(c0);
  const wall = (performance.now() - w0) / 1000;
  const simulated = (clock.now() - t0) / 1000;
  const after = quac.metrics();
  await quac.close();
  const calls = after.deviceCalls - before.deviceCalls;
  const operations = after.deviceOperations - before.deviceOperations;
  if (operations !== ops) throw new Error(`${operations} device operations for ${ops} encapsulations`);
  // The emulator's model (emulated.ts): a call costs one overhead, each ML-KEM-768 encapsulation its compute part.
  const unit = 1 / RATE;
  const busy = calls * unit * CALL_OVERHEAD + operations * unit * (1 - CALL_OVERHEAD);
  return {
    simulatedOpsPerSecond: ops / simulated,
    realOpsPerSecond: ops / wall,
    engineBusy: busy / simulated,
    meanBatch: operations / calls,
    cpuMsPerOp: (cpu.user + cpu.system) / 1000 / ops,
  };
}

/** Noble's ML-KEM-768 encapsulation alone on this host: the bound on the emulator's real throughput. */
async function nobleEncapsPerSecond(ops: number): Promise<number> {
  const noble = createNobleProvider({ random: seededRandom('bare') });
  const kx = noble.keyExchange(NamedGroup.MLKEM768);
  const { share } = await kx.generate();
  const t0 = performance.now();
  for (let i = 0; i < ops; i++) await kx.encapsulate(share);
  return ops / ((performance.now() - t0) / 1000);
}

// ---- 2. handshakes: device signing vs noble signing ----

/** Sums host CPU time while at least one device call is outstanding: the emulated card's arithmetic. */
class CardCpu {
  private active = 0;
  private since: NodeJS.CpuUsage | undefined;
  us = 0;

  wrap(d: QuacDevice): QuacDevice {
    return new Proxy(d, {
      get: (target, prop, receiver) => {
        const v: unknown = Reflect.get(target, prop, receiver);
        if (typeof v !== 'function' || prop === 'close') return v;
        return (...args: unknown[]) => {
          if (this.active++ === 0) this.since = process.cpuUsage();
          const done = (): void => {
            if (--this.active === 0 && this.since) {
              const c = process.cpuUsage(this.since);
              this.us += c.user + c.system;
            }
          };
          const p = (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          return p.finally(done);
        };
      },
    });
  }
}

interface Server {
  readonly name: string;
  readonly provider: CryptoProvider;
  readonly pki: BenchPki;
  /** Host CPU inside device calls, for the QUAC server. */
  readonly card?: CardCpu;
  readonly quac?: QuacProvider;
  readonly close: () => Promise<void>;
}

async function quacServer(): Promise<Server> {
  const library = new EmulatedQuacLibrary({ clock: realClock });
  await library.init({});
  const card = new CardCpu();
  const devices = [card.wrap(await library.open(0))];
  const quac = await createQuacProvider({ devices, clock: realClock });
  const pki = await mintPki(quac);
  return {
    name: 'QUAC 100 (emulated), ML-DSA-65 keys on the card', provider: quac, pki, card, quac,
    close: async () => {
      await quac.close();
      await devices[0]?.close();
      await library.shutdown();
    },
  };
}

async function nobleServer(): Promise<Server> {
  const provider = createNobleProvider();
  return { name: 'noble (software)', provider, pki: await mintPki(provider), close: async () => undefined };
}

interface Pair {
  readonly client: TlsConnection;
  readonly server: TlsConnection;
}

const clientProvider = createNobleProvider();

async function pair(s: Server): Promise<Pair> {
  const now = (): number => s.pki.now;
  const server = TlsConnection.server({ provider: s.provider, now, groups: [GROUP], certificate: s.pki.certificate });
  const client = await TlsConnection.client({
    provider: clientProvider, now, serverName: SERVER_NAME, groups: [GROUP], keyShareGroups: [GROUP],
    verifier: webPkiVerifier({ provider: clientProvider, trustAnchors: [s.pki.rootDer] }),
  });
  return { client, server };
}

/** Moves bytes until both sides are quiet; `serverUs` collects process CPU inside the server's calls. */
async function handshake(s: Server, serverUs?: { us: number }): Promise<Pair> {
  const p = await pair(s);
  for (let i = 0; i < 20; i++) {
    let moved = false;
    if (p.client.wantsWrite) {
      const bytes = p.client.takeOutput();
      const c0 = serverUs ? process.cpuUsage() : undefined;
      await p.server.receive(bytes);
      if (serverUs && c0) {
        const c = process.cpuUsage(c0);
        serverUs.us += c.user + c.system;
      }
      moved = true;
    }
    if (p.server.wantsWrite) {
      await p.client.receive(p.server.takeOutput());
      moved = true;
    }
    if (!moved) break;
  }
  if (!p.client.handshakeInfo || !p.server.handshakeInfo) {
    throw new Error(`${s.name}: handshake failed: ${p.client.error?.message ?? p.server.error?.message ?? 'did not complete'}`);
  }
  return p;
}

interface SequentialRound {
  readonly handshakesPerSecond: number;
  readonly processCpuMs: number;
  readonly serverCpuMs: number;
  readonly cardCpuMs: number;
}

async function sequentialRound(s: Server, n: number): Promise<SequentialRound> {
  const serverUs = { us: 0 };
  const card0 = s.card?.us ?? 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await handshake(s, serverUs);
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return {
    handshakesPerSecond: n / seconds,
    processCpuMs: (c.user + c.system) / 1000 / n,
    serverCpuMs: serverUs.us / 1000 / n,
    cardCpuMs: ((s.card?.us ?? 0) - card0) / 1000 / n,
  };
}

async function concurrentRound(s: Server, n: number, width: number): Promise<{ handshakesPerSecond: number; processCpuMs: number }> {
  let started = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: width }, async () => {
    while (started < n) {
      started++;
      await handshake(s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { handshakesPerSecond: n / seconds, processCpuMs: (c.user + c.system) / 1000 / n };
}

// ---- the report ----

export async function run(): Promise<string> {
  const out: string[] = [];

  // 1. Scheduling in simulated time. The result does not depend on the host; rounds only steady the wall-clock column.
  const rows: { callers: number; batched: boolean; runs: ThroughputRun[] }[] = [];
  for (const callers of CALLERS) for (const batched of [true, false]) rows.push({ callers, batched, runs: [] });
  for (let r = 0; r < THROUGHPUT_ROUNDS; r++) {
    for (const row of rows) row.runs.push(await encapsulations(new VirtualClock(), row.batched, row.callers, OPS));
  }
  const unit = 1 / RATE;
  const ceiling = BATCH_MAX / (unit * CALL_OVERHEAD + BATCH_MAX * unit * (1 - CALL_OVERHEAD));
  out.push(
    `ML-KEM-768 encapsulations through the QUAC provider on one emulated card at its default rate (${RATE.toLocaleString('en')} operations/s = ` +
      `the configured capacity; ${pct(CALL_OVERHEAD)} of a call is per-call overhead that batching pays once per batch, so full batches of ${BATCH_MAX} ` +
      `can reach ${Math.round(ceiling).toLocaleString('en')}/s = ${pct(ceiling / RATE)} of it). The card runs on a VirtualClock: its service times and the ` +
      `batcher's waits pass in simulated time, so "simulated ops/s" is what the provider's scheduling gets out of the modelled card. ` +
      `Batched = the default batcher (up to ${BATCH_MAX} items, or 1 ms after the first); unbatched = \`batch: { maxSize: 1 }\`, one device call per operation. ` +
      `${OPS} operations per run, median of ${THROUGHPUT_ROUNDS} rounds.`,
    '',
    '| callers | mode | simulated ops/s | share of capacity | engine busy | mean batch | real ops/s (wall clock) | host CPU ms / op |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const row of rows) {
    const m = (f: (x: ThroughputRun) => number): number => median(row.runs.map(f));
    const sim = m((x) => x.simulatedOpsPerSecond);
    out.push(
      `| ${row.callers} | ${row.batched ? 'batched' : 'unbatched'} | ${Math.round(sim).toLocaleString('en')} | ${pct(sim / RATE)} | ` +
        `${pct(m((x) => x.engineBusy))} | ${f1(m((x) => x.meanBatch))} | ${f1(m((x) => x.realOpsPerSecond))} | ${f2(m((x) => x.cpuMsPerOp))} |`,
    );
  }

  const at = (callers: number, batched: boolean): number => {
    const row = rows.find((x) => x.callers === callers && x.batched === batched);
    return row ? median(row.runs.map((x) => x.simulatedOpsPerSecond)) / RATE : 0;
  };
  const worst = Math.min(...CALLERS.filter((c) => c >= 64).map((c) => at(c, true)));
  out.push(
    '',
    `Goal, at least 90% of the configured capacity with 64 or more callers, batched: ${worst >= 0.9 ? 'met' : 'NOT met'} (lowest ${pct(worst)}). ` +
      `Below a full batch the batcher's 1 ms window dominates: one or eight callers get more from unbatched calls, which a server ` +
      `with that little concurrency would configure (\`batch: { maxSize: 1 }\` or a shorter \`maxWaitMs\`).`,
  );

  // The same work on real timers: the emulator computes every result with noble on the host, so this is the host's bound.
  const real: { batched: number[]; unbatched: number[]; noble: number[] } = { batched: [], unbatched: [], noble: [] };
  for (let r = 0; r < THROUGHPUT_ROUNDS; r++) {
    real.batched.push((await encapsulations(realClock, true, REAL_CALLERS, REAL_OPS)).realOpsPerSecond);
    real.unbatched.push((await encapsulations(realClock, false, REAL_CALLERS, REAL_OPS)).realOpsPerSecond);
    real.noble.push(await nobleEncapsPerSecond(REAL_OPS));
  }
  out.push(
    '',
    `Real throughput is bounded by the host, not by the scheduling: the emulator's arithmetic is noble's ML-KEM-768 on this CPU. ` +
      `On real timers, ${REAL_CALLERS} callers, ${REAL_OPS} operations, median of ${THROUGHPUT_ROUNDS} rounds:`,
    '',
    '| run | real ops/s |',
    '| --- | ---: |',
    `| QUAC provider, emulated card on real timers, batched | ${f1(median(real.batched))} |`,
    `| QUAC provider, emulated card on real timers, unbatched | ${f1(median(real.unbatched))} |`,
    `| noble ML-KEM-768 encapsulation alone, one at a time (the host's bound) | ${f1(median(real.noble))} |`,
  );

  // 2. Handshakes, device signing vs noble signing, interleaved rounds.
  const servers = [await quacServer(), await nobleServer()];
  try {
    const first = await handshake(servers[0] as Server);
    const info = first.client.handshakeInfo;
    const negotiated = `${info?.group === undefined ? 'none' : groupName(info.group)}/${info?.peerSignatureScheme === undefined ? '?' : signatureSchemeName(info.peerSignatureScheme)}`;
    if (negotiated !== `${GROUP}/mldsa65`) throw new Error(`negotiated ${negotiated}, not ${GROUP}/mldsa65`);
    for (const s of servers) await handshake(s); // warm-up
    const quac = (servers[0] as Server).quac as QuacProvider;
    const m0 = quac.metrics();
    const seq = servers.map(() => [] as SequentialRound[]);
    const conc = servers.map(() => [] as { handshakesPerSecond: number; processCpuMs: number }[]);
    const concurrentBatches = { calls: 0, items: 0 };
    for (let r = 0; r < HANDSHAKE_ROUNDS; r++) {
      for (const [i, s] of servers.entries()) {
        seq[i]?.push(await sequentialRound(s, SEQUENTIAL_PER_ROUND));
        const b0 = s.quac?.metrics().batchSizes;
        conc[i]?.push(await concurrentRound(s, CONCURRENT_PER_ROUND, CONCURRENT));
        const b1 = s.quac?.metrics().batchSizes;
        if (b0 && b1) {
          concurrentBatches.calls += b1.count - b0.count;
          concurrentBatches.items += b1.sum - b0.sum;
        }
      }
    }
    const m1 = quac.metrics();
    const signs = m1.signOperations.filter((x) => x.labels['operation'] === 'sign').reduce((a, x) => a + x.value, 0) -
      m0.signOperations.filter((x) => x.labels['operation'] === 'sign').reduce((a, x) => a + x.value, 0);
    const batches = m1.batchSizes.count - m0.batchSizes.count;
    const batchedOps = m1.batchSizes.sum - m0.batchSizes.sum;
    const total = HANDSHAKE_ROUNDS * (SEQUENTIAL_PER_ROUND + CONCURRENT_PER_ROUND);
    out.push(
      '',
      `TLS 1.3 server handshakes in memory (${GROUP}, ML-DSA-65 chain of two; the client is pqtls on noble, validating the chain), ` +
        `the server's provider either the QUAC provider (emulated card on real timers, default batching, ML-DSA-65 keys made on the card ` +
        `and non-extractable) or noble. Both sides run in this process. Sequential: one handshake at a time, ${SEQUENTIAL_PER_ROUND} per round; ` +
        `concurrent: ${CONCURRENT} handshakes in flight, ${CONCURRENT_PER_ROUND} per round. Median of ${HANDSHAKE_ROUNDS} interleaved rounds.`,
      '',
      '| server provider | sequential handshakes/s | server CPU ms / handshake | of which the emulated card | server CPU ms / handshake without the card | process CPU ms / handshake (both sides) | concurrent handshakes/s | process CPU ms / handshake |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [i, s] of servers.entries()) {
      const sq = seq[i] as SequentialRound[];
      const cc = conc[i] as { handshakesPerSecond: number; processCpuMs: number }[];
      const ms = (f: (x: SequentialRound) => number): number => median(sq.map(f));
      out.push(
        `| ${s.name} | ${f1(ms((x) => x.handshakesPerSecond))} | ${f2(ms((x) => x.serverCpuMs))} | ${s.card ? f2(ms((x) => x.cardCpuMs)) : '–'} | ` +
          `${f2(ms((x) => x.serverCpuMs - x.cardCpuMs))} | ` +
          `${f2(ms((x) => x.processCpuMs))} | ${f1(median(cc.map((x) => x.handshakesPerSecond)))} | ${f2(median(cc.map((x) => x.processCpuMs)))} |`,
      );
    }
    out.push(
      '',
      `"Of which the emulated card" is host CPU while a device call was outstanding: the emulator computing the card's results with noble ` +
        `(ML-KEM-768 encapsulation, ML-DSA-65 signing, QRNG), which a real card takes off the host. Over the timed handshakes (${total}) the card ` +
        `made ${signs} ML-DSA-65 signatures in ${batches} batch calls carrying ${batchedOps} operations (mean ${f1(batchedOps / Math.max(1, batches))} per call; with ${CONCURRENT} handshakes in flight ` +
        `${f1(concurrentBatches.items / Math.max(1, concurrentBatches.calls))} per call, one at a time ${f1((batchedOps - concurrentBatches.items) / Math.max(1, batches - concurrentBatches.calls))}). ` +
        `"Without the card" is what a server on a real card would spend on the host. Wall-clock rates are the weaker figures here: the emulated ` +
        `card's arithmetic still runs on this host, and on real timers each of the server's three device calls per handshake (ML-KEM ` +
        `encapsulation, ServerHello random, CertificateVerify) waits for a timer tick and, when batched, the batcher's 1 ms window; on a shared, ` +
        `loaded machine every such wait also hands the CPU to other processes.`,
    );
  } finally {
    for (const s of servers) await s.close();
  }
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(await run());
}
