/**
 * The key log (SSLKEYLOGFILE, the NSS key log format) is enough for an
 * independent dissector to decrypt a pqtls QUIC capture: Wireshark's tshark
 * reads a pcap of one connection (X25519MLKEM768, an ML-DSA-65 chain) with the
 * client's or the server's key log and shows the Handshake packets' TLS
 * messages and the 1-RTT STREAM frames with our bytes, those sent after a key
 * update (RFC 9001 §6) included: the four traffic secrets of RFC 9001 §5.1
 * are all it needs, as later 1-RTT generations derive from the first (§6.1).
 *
 * Beside the capture each side writes its qlog: every packet tshark decrypts
 * is one the sender's qlog lists as sent, same type and packet number, in the
 * same order, so the two views of a connection can be laid side by side.
 *
 * The connection runs in memory (sans-IO); the capture is written by
 * test/helpers/pcap.ts (IPv4/UDP headers around each datagram).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/bytes.js';
import { NamedGroup } from '../../src/pq/ids.js';
import { createNobleProvider, type CryptoProvider } from '../../src/pq/index.js';
import { QuicConnection } from '../../src/quic/connection/connection.js';
import { QlogJsonSeqWriter, RECORD_SEPARATOR } from '../../src/quic/qlog.js';
import { seededRandom } from '../../src/testing/index.js';
import { webPkiVerifier } from '../../src/tls13/verifier.js';
import { mintOurPki, type OurPki } from '../helpers/our-pki.js';
import { pcapFile, type CapturedDatagram } from '../helpers/pcap.js';
import { interopDisabled, requirePeer, runPeer } from '../helpers/peers.js';
import { NOW } from '../helpers/tls-pair.js';

const CLIENT = [192, 0, 2, 1] as const;
const SERVER = [192, 0, 2, 2] as const;
const BEFORE_UPDATE = 'pqtls stream data, decrypted by tshark';
const AFTER_UPDATE = 'and more of it after a 1-RTT key update';

interface Captured {
  readonly pcap: string;
  readonly clientKeys: string;
  readonly serverKeys: string;
  /** `type/pn` of every packet_sent event of each side's qlog, in order (type as qlog names it). */
  readonly qlogSent: { readonly client: string[]; readonly server: string[] };
}

function sentPackets(qlog: readonly string[]): string[] {
  return qlog.join('').split(RECORD_SEPARATOR).slice(1).map((r) => JSON.parse(r) as { name: string; data: { header?: { packet_type: string; packet_number: number } } })
    .filter((e) => e.name === 'transport:packet_sent').map((e) => `${e.data.header?.packet_type}/${e.data.header?.packet_number}`);
}

/** One connection in memory: handshake, a stream, a key update, another stream, close; every datagram captured. */
async function captureConnection(provider: CryptoProvider, pki: OurPki, dir: string): Promise<Captured> {
  const clientKeys: string[] = [];
  const serverKeys: string[] = [];
  const clientQlog: string[] = [];
  const serverQlog: string[] = [];
  let now = NOW;
  const tls = { groups: ['X25519MLKEM768'] as const, alpnProtocols: ['tshark'] };
  const client = await QuicConnection.connect({
    qlog: new QlogJsonSeqWriter((r) => clientQlog.push(r)),
    tls: { ...tls, groups: [...tls.groups], provider, now: Date.now, serverName: 'localhost', keyLog: (l) => clientKeys.push(l),
      verifier: webPkiVerifier({ provider, trustAnchors: [pki.mldsa.rootDer] }) },
  }, now);
  const serverOptions = { qlog: new QlogJsonSeqWriter((r) => serverQlog.push(r)), tls: { ...tls, groups: [...tls.groups], provider, now: Date.now, certificate: pki.mldsa.server.credentials, keyLog: (l: string) => serverKeys.push(l) } };
  let server: QuicConnection | undefined;
  const datagrams: CapturedDatagram[] = [];
  const serverReceived = new Map<number, string>();

  // Delivers everything each side has to send, in order, until both are quiet.
  const exchange = async (): Promise<void> => {
    for (let round = 0; round < 200; round++) {
      let moved = false;
      for (let d = (await client.pollTransmit(now))?.data; d; d = (await client.pollTransmit(now))?.data) {
        moved = true;
        datagrams.push({ time: now, src: CLIENT, srcPort: 50443, dst: SERVER, dstPort: 443, data: d.slice() }); // a copy: the receiver removes header protection in place
        if (!server) server = await QuicConnection.accept(serverOptions, d, now);
        else await server.handleDatagram(d, now);
      }
      for (let d = server ? (await server.pollTransmit(now))?.data : undefined; d && server; d = (await server.pollTransmit(now))?.data) {
        moved = true;
        datagrams.push({ time: now, src: SERVER, srcPort: 443, dst: CLIENT, dstPort: 50443, data: d.slice() }); // a copy: the receiver removes header protection in place
        await client.handleDatagram(d, now);
      }
      for (let e = server?.poll(); e; e = server?.poll()) {
        if (e.type !== 'stream' || e.event.type !== 'readable' || !server) continue;
        for (let r = server.readStream(e.event.id); r && r.data.length; r = server.readStream(e.event.id)) {
          serverReceived.set(e.event.id, (serverReceived.get(e.event.id) ?? '') + new TextDecoder().decode(r.data));
        }
      }
      while (client.poll());
      now += 5;
      // Timers fire (delayed ACKs) as simulated time passes.
      for (const c of [client, server]) if (c && (c.pollTimeout() ?? Infinity) <= now) await c.handleTimeout(now);
      if (!moved && round > 10) return;
    }
    throw new Error('the connection keeps sending');
  };

  await exchange();
  if (!client.isHandshakeConfirmed) throw new Error('handshake did not complete');
  const first = client.openStream(true);
  client.writeStream(first, utf8(BEFORE_UPDATE), true);
  await exchange();
  await client.updateKeys(now);
  const second = client.openStream(true);
  client.writeStream(second, utf8(AFTER_UPDATE), true);
  await exchange();
  expect(serverReceived.get(first)).toBe(BEFORE_UPDATE);
  expect(serverReceived.get(second)).toBe(AFTER_UPDATE);
  client.close(now, 0, 'capture done');
  await exchange();

  const files = { pcap: join(dir, 'quic.pcap'), clientKeys: join(dir, 'client.keys'), serverKeys: join(dir, 'server.keys') };
  writeFileSync(files.pcap, pcapFile(datagrams));
  writeFileSync(files.clientKeys, clientKeys.map((l) => `${l}\n`).join(''));
  writeFileSync(files.serverKeys, serverKeys.map((l) => `${l}\n`).join(''));
  return { ...files, qlogSent: { client: sentPackets(clientQlog), server: sentPackets(serverQlog) } };
}

/**
 * tshark's view of the capture: one line per datagram with QUIC in it, tab-separated fields (header form,
 * long packet type, frame types, stream IDs, stream data as hex, TLS handshake types, key share groups, key
 * phase), each with all its occurrences comma-separated (coalesced packets, several frames).
 */
async function tshark(pcap: string, keyLog: string | undefined): Promise<string[][]> {
  const r = await runPeer('tshark', [
    '-r', pcap, '-n', '-d', 'udp.port==443,quic', ...(keyLog ? ['-o', `tls.keylog_file:${keyLog}`] : []),
    '-Y', 'quic', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,',
    '-e', 'quic.header_form', '-e', 'quic.long.packet_type', '-e', 'quic.frame_type', '-e', 'quic.stream.stream_id', '-e', 'quic.stream_data',
    '-e', 'tls.handshake.type', '-e', 'tls.handshake.extensions_key_share_group', '-e', 'quic.key_phase',
    '-e', 'ip.src', '-e', 'quic.packet_number',
  ], { timeoutMs: 60_000 });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

/** `type/pn` of each packet tshark shows from `src`, in order, named as qlog names packet types. */
function dissectedPackets(rows: string[][], src: string): string[] {
  const out: string[] = [];
  for (const r of rows.filter((row) => row[8] === src)) {
    const longTypes = (r[1] ?? '').split(',');
    const pns = (r[9] ?? '').split(',');
    (r[0] ?? '').split(',').forEach((form, i) => {
      const type = form === '0' ? '1RTT' : ({ 0: 'initial', 1: '0RTT', 2: 'handshake' } as Record<string, string>)[longTypes.shift() ?? ''] ?? '?';
      out.push(`${type}/${pns[i] ?? '?'}`);
    });
  }
  return out;
}

const FRAME_STREAM_MIN = 0x08;
const FRAME_STREAM_MAX = 0x0f;
const HANDSHAKE_CERTIFICATE = '11';
const HANDSHAKE_FINISHED = '20';

describe.runIf(!interopDisabled)('tshark decrypts a pqtls QUIC capture with the key log', () => {
  let dir = '';
  let captured: Captured;

  beforeAll(async () => {
    requirePeer('tshark');
    dir = mkdtempSync(join(tmpdir(), 'pqtls-interop-tshark-'));
    const provider = createNobleProvider({ random: seededRandom('interop tshark') });
    const pki = await mintOurPki(provider, dir);
    captured = await captureConnection(provider, pki, dir);
  }, 60_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The stream data tshark shows per stream ID, hex, in packet order. */
  function streamData(rows: string[][]): Map<string, string> {
    const out = new Map<string, string>();
    for (const [, , , ids = '', data = ''] of rows) {
      const idList = ids.split(',');
      const dataList = data.split(',');
      idList.forEach((id, i) => {
        if (id !== '') out.set(id, (out.get(id) ?? '') + (dataList[i] ?? '').replace(/:/g, ''));
      });
    }
    return out;
  }

  it('the key logs name the four QUIC traffic secrets (RFC 9001 §5.1) for the same ClientHello', () => {
    for (const file of [captured.clientKeys, captured.serverKeys]) {
      const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' '));
      const labels = lines.map(([label]) => label);
      expect(labels).toEqual(expect.arrayContaining([
        'CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0',
      ]));
      // Every line names the one ClientHello random (the server's too: it learns it from the ClientHello).
      expect(new Set(lines.map(([, random]) => random)).size).toBe(1);
      expect(lines.every(([, random, secret]) => /^[0-9a-f]{64}$/.test(random ?? '') && /^[0-9a-f]{64,96}$/.test(secret ?? ''))).toBe(true);
    }
    const client = readFileSync(captured.clientKeys, 'utf8');
    const server = readFileSync(captured.serverKeys, 'utf8');
    const sorted = (t: string): string[] => t.trim().split('\n').filter((l) => !l.startsWith('EXPORTER')).sort();
    expect(sorted(client)).toEqual(sorted(server));
  });

  for (const side of ['client', 'server'] as const) {
    it(`with the ${side}'s key log: Handshake messages and 1-RTT STREAM frames decrypted, before and after the key update`, async () => {
      const rows = await tshark(captured.pcap, side === 'client' ? captured.clientKeys : captured.serverKeys);
      const handshakeTypes = rows.flatMap((r) => (r[5] ?? '').split(','));
      // The Initial carries the ClientHello with the X25519MLKEM768 key share (Initial keys are public, RFC 9001 §5.2)...
      expect(rows.some((r) => (r[6] ?? '').split(',').includes(String(NamedGroup.X25519MLKEM768)))).toBe(true);
      // ...the Handshake packets need the handshake secrets: the ML-DSA chain's Certificate and both Finished.
      expect(handshakeTypes).toContain(HANDSHAKE_CERTIFICATE);
      expect(handshakeTypes.filter((t) => t === HANDSHAKE_FINISHED).length).toBe(2);
      // 1-RTT packets opened: STREAM frames, with our bytes in them, in both key phases.
      const oneRtt = rows.filter((r) => r[0] === '0'); // header form 0: short header, 1-RTT
      expect(oneRtt.length).toBeGreaterThan(0);
      const frameTypes = rows.flatMap((r) => (r[2] ?? '').split(',')).filter((t) => t !== '').map(Number);
      expect(frameTypes.some((t) => t >= FRAME_STREAM_MIN && t <= FRAME_STREAM_MAX)).toBe(true);
      const data = streamData(rows);
      expect(data.get('0')).toBe(toHex(utf8(BEFORE_UPDATE)));
      expect(data.get('4')).toBe(toHex(utf8(AFTER_UPDATE)));
      const phases = new Set(oneRtt.map((r) => r[7]));
      expect(phases).toEqual(new Set(['False', 'True']));
      // Each packet tshark opened is the one the sender's qlog lists, in the same order.
      expect(captured.qlogSent.client.length).toBeGreaterThan(5);
      expect(captured.qlogSent.server.length).toBeGreaterThan(5);
      expect(dissectedPackets(rows, CLIENT.join('.'))).toEqual(captured.qlogSent.client);
      expect(dissectedPackets(rows, SERVER.join('.'))).toEqual(captured.qlogSent.server);
    }, 60_000);
  }

  it('without a key log tshark sees the Initial ClientHello but no stream data (the check above can fail)', async () => {
    const rows = await tshark(captured.pcap, undefined);
    expect(rows.some((r) => (r[6] ?? '').split(',').includes(String(NamedGroup.X25519MLKEM768)))).toBe(true);
    expect(streamData(rows).size).toBe(0);
    expect(rows.flatMap((r) => (r[5] ?? '').split(','))).not.toContain(HANDSHAKE_CERTIFICATE);
  }, 60_000);
});
