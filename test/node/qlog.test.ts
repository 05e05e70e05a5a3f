/**
 * qlog over a real loopback connection (draft-ietf-quic-qlog-main-schema,
 * draft-ietf-quic-qlog-quic-events, qlog 0.3 as OpenSSL 3.5 and ngtcp2 write
 * it): with `qlogDir`, a pqtls client and server (X25519MLKEM768, ML-DSA-65)
 * each write `<odcid>_<role>.sqlog`, a JSON-SEQ file (RFC 7464) that parses
 * back record by record, with monotonic times and packet numbers that match
 * what the other side logged as received.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { QlogJsonSeqWriter, RECORD_SEPARATOR, type QlogData, type QlogValue } from '../../src/quic/qlog.js';
import { qlogDirFromEnv, QlogFileSink, withQlogDir } from '../../src/node/qlog-file.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';
import { listenOurQuicServer, ourQuicClient, sendOnNewStream, until } from '../helpers/quic-interop.js';
import { seeded } from '../helpers/fc.js';
import { NamedGroup } from '../../src/pq/ids.js';

interface QlogRecord {
  readonly time: number;
  readonly name: string;
  readonly data: Record<string, unknown>;
}
interface QlogFile {
  readonly header: { qlog_version: string; qlog_format: string; trace: { vantage_point: { type: string }; common_fields: { time_format: string; reference_time: number; ODCID: string } } };
  readonly events: QlogRecord[];
}

/** RFC 7464 §2: every record is RS, one JSON text, LF; nothing else is in the file. */
function parseJsonSeq(text: string): unknown[] {
  expect(text.startsWith(RECORD_SEPARATOR)).toBe(true);
  return text.split(RECORD_SEPARATOR).slice(1).map((r) => {
    expect(r.endsWith('\n')).toBe(true);
    return JSON.parse(r) as unknown;
  });
}

function readQlog(path: string): QlogFile {
  const [header, ...events] = parseJsonSeq(readFileSync(path, 'utf8'));
  return { header: header as QlogFile['header'], events: events as QlogRecord[] };
}

type Header = { packet_type: string; packet_number: number };
const packets = (f: QlogFile, name: string): Header[] => f.events.filter((e) => e.name === name).map((e) => e.data.header as Header);
const key = (h: Header): string => `${h.packet_type}/${h.packet_number}`;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('qlog files of a pqtls QUIC connection over loopback', () => {
  it('client and server each write <odcid>_<role>.sqlog with the events of the connection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pqtls-qlog-'));
    dirs.push(dir);
    const provider = seededProvider('qlog-loopback');
    const key65 = await testKey(provider, 'ml-dsa-65');
    const server = await listenOurQuicServer({
      qlogDir: dir,
      tls: { provider, now: clock, certificate: { chain: [key65.publicKey], ...key65 }, alpnProtocols: ['qlog'], groups: ['X25519MLKEM768'] },
    });
    const { log, info } = await ourQuicClient({
      host: '127.0.0.1', port: server.port, qlogDir: dir,
      tls: { provider, now: clock, serverName: 'qlog', verifier: pinnedKeyVerifier(key65), alpnProtocols: ['qlog'], groups: ['X25519MLKEM768'] },
    });
    expect(info.group).toBe(NamedGroup.X25519MLKEM768);
    const payload = 'qlog me, '.repeat(300);
    const id = await sendOnNewStream(log.session, payload);
    await until(() => log.finished.has(id), 'the echo');
    expect(log.text(id)).toBe(payload);
    await log.session.close(0, 'done');
    await until(() => server.sessions[0]?.closed !== undefined, 'the server to see the close');
    await new Promise((r) => setImmediate(r)); // the sinks append once per event-loop turn

    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2);
    const [clientName, serverName] = files as [string, string];
    // One name per connection: the client's original Destination Connection ID, as OpenSSL's QLOGDIR files.
    expect(clientName).toMatch(/^[0-9a-f]{16}_client\.sqlog$/);
    expect(serverName).toBe(clientName.replace('_client', '_server'));
    const client = readQlog(join(dir, clientName));
    const srv = readQlog(join(dir, serverName));

    for (const [f, role] of [[client, 'client'], [srv, 'server']] as const) {
      expect(f.header).toMatchObject({ qlog_version: '0.3', qlog_format: 'JSON-SEQ', trace: { vantage_point: { type: role } } });
      expect(f.header.trace.common_fields).toMatchObject({ time_format: 'relative', ODCID: clientName.slice(0, 16) });
      expect(typeof f.header.trace.common_fields.reference_time).toBe('number');
      // Every event has a time relative to the reference, never going back, a category:name and a data object.
      let last = 0;
      for (const e of f.events) {
        expect(e.name).toMatch(/^(connectivity|transport|security|recovery):[a-z_]+$/);
        expect(typeof e.data).toBe('object');
        expect(e.time).toBeGreaterThanOrEqual(last);
        last = e.time;
      }
      const names = new Set(f.events.map((e) => e.name));
      for (const n of [
        'connectivity:connection_started', 'connectivity:connection_state_updated', 'connectivity:connection_closed',
        'transport:version_information', 'transport:alpn_information', 'transport:parameters_set',
        'transport:packet_sent', 'transport:packet_received', 'security:key_updated', 'security:key_discarded', 'recovery:metrics_updated',
      ]) expect(names, `${role}: ${n}`).toContain(n);
      const params = f.events.filter((e) => e.name === 'transport:parameters_set').map((e) => e.data.owner);
      expect(params).toEqual(['local', 'remote']);
      expect(f.events.find((e) => e.name === 'transport:alpn_information')?.data.chosen_alpn).toBe('qlog');
      // Packet numbers as sent: per space, 0, 1, 2, ... (RFC 9000 §12.3), none skipped.
      for (const type of ['initial', 'handshake', '1RTT']) {
        const pns = packets(f, 'transport:packet_sent').filter((h) => h.packet_type === type).map((h) => h.packet_number);
        expect(pns.length, `${role} ${type}`).toBeGreaterThan(0);
        expect(pns).toEqual(pns.map((_, i) => i));
      }
      const states = f.events.filter((e) => e.name === 'connectivity:connection_state_updated').map((e) => e.data.new);
      expect(states).toEqual(expect.arrayContaining(['attempted', 'handshake_complete', 'handshake_confirmed']));
      const keys = f.events.filter((e) => e.name === 'security:key_updated').map((e) => e.data.key_type);
      expect(keys).toEqual(expect.arrayContaining(['client_initial_secret', 'server_handshake_secret', 'client_1rtt_secret', 'server_1rtt_secret']));
    }
    // What one side logged as received, the other logged as sent, with the same type and packet number.
    const sentBy = (f: QlogFile): Set<string> => new Set(packets(f, 'transport:packet_sent').map(key));
    for (const h of packets(srv, 'transport:packet_received')) expect(sentBy(client), `server received ${key(h)}`).toContain(key(h));
    for (const h of packets(client, 'transport:packet_received')) expect(sentBy(srv), `client received ${key(h)}`).toContain(key(h));
    // The stream went out in STREAM frames whose lengths add up to the payload, FIN on the last.
    const streamFrames = client.events.filter((e) => e.name === 'transport:packet_sent')
      .flatMap((e) => e.data.frames as { frame_type: string; stream_id?: number; length?: number; fin?: boolean }[])
      .filter((fr) => fr.frame_type === 'stream' && fr.stream_id === id);
    expect(streamFrames.reduce((n, fr) => n + (fr.length ?? 0), 0)).toBe(payload.length);
    expect(streamFrames.some((fr) => fr.fin)).toBe(true);
    expect(client.events.find((e) => e.name === 'connectivity:connection_closed')?.data).toMatchObject({ owner: 'local', application_code: 0, trigger: 'application' });
    expect(srv.events.find((e) => e.name === 'connectivity:connection_closed')?.data).toMatchObject({ owner: 'remote', application_code: 0 });
  });

  it('QLOGDIR names the directory as for OpenSSL; an explicit sink wins over qlogDir', () => {
    expect(qlogDirFromEnv({ QLOGDIR: '/tmp/q' })).toBe('/tmp/q');
    expect(qlogDirFromEnv({ QLOGDIR: '' })).toBeUndefined();
    expect(qlogDirFromEnv({})).toBeUndefined();
    expect(withQlogDir({ qlogDir: '/tmp/q' }).qlog).toBeInstanceOf(QlogFileSink);
    const mine = { event: () => undefined };
    expect(withQlogDir({ qlogDir: '/tmp/q', qlog: mine }).qlog).toBe(mine);
    expect(withQlogDir({}).qlog).toBeUndefined();
  });
});

describe('the JSON-SEQ writer', () => {
  // Any member names and values a peer can put into an event (a reason phrase, say: control
  // characters, RS itself, lone surrogates) still give records that parse back to what was logged.
  const value: fc.Arbitrary<QlogValue> = fc.letrec<{ v: QlogValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.string({ unit: 'binary' }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null),
      fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ unit: 'binary' }), tie('v'), { maxKeys: 4 }),
    ),
  })).v;
  const event = fc.record({ time: fc.double({ min: 0, max: 1e9, noNaN: true }), name: fc.string({ unit: 'binary' }), data: fc.dictionary(fc.string({ unit: 'binary' }), value, { maxKeys: 5 }) });

  it('every record it writes is RS + one JSON text + LF that parses back to the event', () => {
    fc.assert(fc.property(fc.array(event, { maxLength: 8 }), (events) => {
      const out: string[] = [];
      const w = new QlogJsonSeqWriter((r) => out.push(r));
      w.start({ vantagePoint: 'server', referenceTime: 1000, odcid: new Uint8Array([1, 2]) });
      let t = 1000;
      for (const e of events) {
        t += e.time;
        w.event(t, e.name, e.data as QlogData);
      }
      const records = parseJsonSeq(out.join(''));
      expect(records).toHaveLength(events.length + 1);
      // RS may only be the separator: inside a record JSON escapes it (\u001e).
      for (const r of out) expect(r.indexOf(RECORD_SEPARATOR, 1)).toBe(-1);
      events.forEach((e, i) => {
        const r = records[i + 1] as QlogRecord;
        expect(r.name).toBe(e.name);
        expect(r.data).toEqual(JSON.parse(JSON.stringify(e.data)));
      });
    }), seeded(0x51c0));
  });

  it('leaves out members JSON cannot carry (Infinity, as ssthresh before the first loss) instead of writing null', () => {
    const out: string[] = [];
    const w = new QlogJsonSeqWriter((r) => out.push(r));
    w.event(5, 'recovery:metrics_updated', { ssthresh: Infinity, congestion_window: 12000 });
    const [header, record] = parseJsonSeq(out.join('')) as [unknown, QlogRecord];
    expect(header).toMatchObject({ qlog_version: '0.3' });
    expect(record).toEqual({ time: 5, name: 'recovery:metrics_updated', data: { congestion_window: 12000 } });
  });
});

describe('QlogFileSink', () => {
  it('writes what is buffered when the process exits before the next event-loop turn (a CLI calling process.exit)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pqtls-qlog-exit-'));
    dirs.push(dir);
    const { spawnSync } = await import('node:child_process');
    const module = new URL('../../src/node/qlog-file.ts', import.meta.url).pathname;
    const script = `
      const { QlogFileSink } = await import(${JSON.stringify(module)});
      const sink = new QlogFileSink(${JSON.stringify(dir)});
      sink.start({ vantagePoint: 'client', referenceTime: 0, odcid: new Uint8Array([0xab, 0xcd]) });
      sink.event(1, 'transport:packet_sent', { header: { packet_type: 'initial', packet_number: 0 } });
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const records = parseJsonSeq(readFileSync(join(dir, 'abcd_client.sqlog'), 'utf8')) as QlogRecord[];
    expect(records.map((e) => e.name)).toEqual([undefined, 'transport:packet_sent']);
  });
});
