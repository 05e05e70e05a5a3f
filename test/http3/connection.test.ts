/**
 * HTTP/3 (RFC 9114) and hq-interop client ↔ server over the in-memory QUIC
 * network (test/helpers/quic-sim.ts), deterministic: requests and responses
 * on concurrent streams, SETTINGS and the QPACK streams both ways, loss; and
 * a raw QUIC peer breaking the rules, each answered with the error code the
 * RFC names — a connection error closes the connection with it (§8), a
 * malformed message resets its stream only (§4.1.2).
 */
import { describe, expect, it } from 'vitest';
import { concat, fromHex } from '../../src/bytes.js';
import { H3ErrorCode } from '../../src/http3/errors.js';
import { FrameType, SettingId, dataFrameHeader, encodeFrame, encodeSettings } from '../../src/http3/frames.js';
import { Http3Connection, StreamType, type Http3Event } from '../../src/http3/connection.js';
import { HqConnection, HQ_REQUEST_ERROR, type HqEvent } from '../../src/http3/hq.js';
import { encodeFieldSection, type Field } from '../../src/http3/qpack.js';
import { QuicConnection, type QuicEvent, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { seededRandom } from '../../src/testing/index.js';
import { QuicSim, type SimOptions } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

async function setup(seed: string, alpn: string, sim: SimOptions = {}) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  const serverOptions: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: [alpn] } };
  const client = await QuicConnection.connect({
    tls: { provider, now: clock, serverName: 'h3.test', verifier: pinnedKeyVerifier(key), alpnProtocols: [alpn] },
  }, 1_000_000);
  const s = new QuicSim(client, serverOptions, { seed, ...sim });
  await s.run(() => client.isHandshakeComplete && s.server?.isHandshakeComplete === true);
  return { sim: s, client, server: s.server as QuicConnection };
}

function drain<T>(c: { poll(): T | undefined }): T[] {
  const out: T[] = [];
  for (let e = c.poll(); e; e = c.poll()) out.push(e);
  return out;
}

/** Both sides speak HTTP/3; the server answers GET /size/N with N bytes, anything else with 404. */
async function h3Pair(seed: string, sim: SimOptions = {}) {
  const { sim: s, client, server } = await setup(seed, 'h3', sim);
  const c = new Http3Connection(client);
  const srv = new Http3Connection(server);
  const clientEvents: Http3Event[] = [];
  const serverEvents: Http3Event[] = [];
  c.start(s.now);
  srv.start(s.now);
  const step = (): void => {
    c.drive(s.now);
    srv.drive(s.now);
    for (const e of drain(srv)) {
      serverEvents.push(e);
      if (e.type !== 'request') continue;
      const m = /^\/size\/(\d+)$/.exec(e.request.path ?? '');
      if (!m) srv.respond(e.streamId, 404);
      else srv.respond(e.streamId, 200, [['content-type', 'application/octet-stream']], new Uint8Array(Number(m[1])).fill(0x5a));
    }
    clientEvents.push(...drain(c));
  };
  return { sim: s, client, server, c, srv, clientEvents, serverEvents, step };
}

describe('RFC 9114 over the simulated network', () => {
  it('§6.2.1 / RFC 9204 §4.2: each side opens control, QPACK encoder and decoder streams; SETTINGS arrive both ways', async () => {
    const p = await h3Pair('h3 settings');
    await p.sim.run(() => {
      p.step();
      return p.c.settings !== undefined && p.srv.settings !== undefined;
    });
    for (const h of [p.c, p.srv]) {
      expect(h.settings?.get(SettingId.QPACK_MAX_TABLE_CAPACITY)).toBe(0);
      expect(h.settings?.get(SettingId.QPACK_BLOCKED_STREAMS)).toBe(0);
      expect(h.settings?.get(SettingId.MAX_FIELD_SECTION_SIZE)).toBe(65_536);
    }
    expect(p.client.isClosed || p.server.isClosed).toBe(false);
  });

  it('§4.1: GET requests on concurrent streams, each answered with status, fields and body, under 5% loss', async () => {
    const p = await h3Pair('h3 get', { loss: 0.05 });
    const sizes = [0, 1, 1000, 50_000, 200_000, 7];
    const ids = sizes.map((n) => p.c.get('h3.test', `/size/${n}`));
    const missing = p.c.get('h3.test', '/nothing');
    const ended = (id: number): boolean => p.clientEvents.some((e) => e.type === 'end' && e.streamId === id);
    await p.sim.run(() => {
      p.step();
      return [...ids, missing].every(ended);
    }, 120_000);
    ids.forEach((id, i) => {
      const response = p.clientEvents.find((e) => e.type === 'response' && e.streamId === id);
      expect(response).toMatchObject({ status: 200, fields: [['content-type', 'application/octet-stream']] });
      const body = concat(...p.clientEvents.flatMap((e) => (e.type === 'data' && e.streamId === id ? [e.data] : [])));
      expect(body.length).toBe(sizes[i]);
      expect(body.every((b) => b === 0x5a)).toBe(true);
    });
    expect(p.clientEvents.find((e) => e.type === 'response' && e.streamId === missing)).toMatchObject({ status: 404 });
    expect(p.serverEvents.filter((e) => e.type === 'request')).toHaveLength(7);
    expect(p.clientEvents.some((e) => e.type === 'closed' || e.type === 'reset')).toBe(false);
  });

  it('§5.2: GOAWAY from the server names the first request it will not process', async () => {
    const p = await h3Pair('h3 goaway');
    const id = p.c.get('h3.test', '/size/10');
    await p.sim.run(() => {
      p.step();
      return p.clientEvents.some((e) => e.type === 'end' && e.streamId === id);
    });
    p.srv.goaway();
    await p.sim.run(() => {
      p.step();
      return p.clientEvents.some((e) => e.type === 'goaway');
    });
    expect(p.clientEvents.find((e) => e.type === 'goaway')).toEqual({ type: 'goaway', id: 4 });
  });
});

describe('RFC 9114 §5.2: GOAWAY seen by the client', () => {
  it('requests at or above the identifier end as rejected (retryable); those below are answered; no new request may start', async () => {
    const p = await h3Pair('h3 goaway reject');
    const ids = [0, 1, 2].map(() => p.c.get('h3.test', '/size/4'));
    // The server has not answered yet: it will process stream 0 only.
    p.srv.goaway(4);
    await p.sim.run(() => {
      p.c.drive(p.sim.now);
      p.srv.drive(p.sim.now);
      p.clientEvents.push(...drain(p.c));
      for (const e of drain(p.srv)) if (e.type === 'request' && e.streamId < 4) p.srv.respond(e.streamId, 200, [], new Uint8Array(4));
      return p.clientEvents.some((e) => e.type === 'end' && e.streamId === 0) && p.clientEvents.filter((e) => e.type === 'reset').length === 2;
    });
    expect(ids).toEqual([0, 4, 8]);
    expect(p.clientEvents.filter((e) => e.type === 'reset')).toEqual([4, 8].map((streamId) => ({ type: 'reset', streamId, errorCode: H3ErrorCode.H3_REQUEST_REJECTED, local: true })));
    expect(() => p.c.get('h3.test', '/size/1')).toThrow(/GOAWAY/);
  });
});

describe('hq-interop (HTTP/0.9 over QUIC)', () => {
  it('GET /path on a bidirectional stream with FIN; the file comes back with FIN; a missing one is a reset stream', async () => {
    const { sim, client, server } = await setup('hq', 'hq-interop', { loss: 0.03 });
    const c = new HqConnection(client);
    const srv = new HqConnection(server);
    const files: Record<string, Uint8Array> = { '/a.txt': new TextEncoder().encode('hello\n'), '/big': seededRandom('hq big')(120_000) };
    const events: HqEvent[] = [];
    const ids = ['/a.txt', '/big', '/missing'].map((p) => c.request(p));
    await sim.run(() => {
      c.drive();
      srv.drive();
      for (const e of drain(srv)) {
        if (e.type !== 'request') continue;
        const f = files[e.path];
        if (f) srv.respond(e.streamId, f);
        else srv.refuse(e.streamId);
      }
      events.push(...drain(c));
      return ids.every((id) => events.some((e) => (e.type === 'end' || e.type === 'reset') && e.streamId === id));
    }, 120_000);
    const body = (id: number): Uint8Array => concat(...events.flatMap((e) => (e.type === 'data' && e.streamId === id ? [e.data] : [])));
    expect(body(ids[0] as number)).toEqual(files['/a.txt']);
    expect(body(ids[1] as number)).toEqual(files['/big']);
    expect(events.find((e) => e.streamId === ids[2])).toEqual({ type: 'reset', streamId: ids[2], errorCode: HQ_REQUEST_ERROR, local: false });
  });

  it('a stream the server opens is stopped by the client, so its bytes do not hold connection credit', async () => {
    const { sim, client, server } = await setup('hq server stream', 'hq-interop');
    const c = new HqConnection(client);
    const id = server.openStream(true);
    server.writeStream(id, new Uint8Array(100_000), true);
    const serverEvents: QuicEvent[] = [];
    await sim.run(() => {
      c.drive();
      serverEvents.push(...drain(server));
      return serverEvents.some((e) => e.type === 'stream' && e.event.type === 'stopped');
    });
    expect(serverEvents.find((e) => e.type === 'stream' && e.event.type === 'stopped')).toMatchObject({ event: { id, errorCode: HQ_REQUEST_ERROR } });
  });

  it('a request line that is not GET /path, or is longer than the cap, is refused with a reset', async () => {
    const { sim, client, server } = await setup('hq bad', 'hq-interop');
    const srv = new HqConnection(server);
    const bad = [new TextEncoder().encode('POST /x\r\n'), new TextEncoder().encode('GET x\r\n'), new Uint8Array(5000).fill(0x41)];
    const ids = bad.map((b) => {
      const id = client.openStream(true);
      client.writeStream(id, b, true);
      return id;
    });
    const resets: QuicEvent[] = [];
    const serverEvents: HqEvent[] = [];
    await sim.run(() => {
      srv.drive();
      serverEvents.push(...drain(srv));
      resets.push(...drain(client).filter((e) => e.type === 'stream' && e.event.type === 'reset'));
      return resets.length === ids.length;
    });
    expect(serverEvents.filter((e) => e.type === 'request')).toEqual([]);
    for (const e of resets) expect(e).toMatchObject({ event: { errorCode: HQ_REQUEST_ERROR } });
  });
});

/** A raw QUIC client (no HTTP/3 of its own) against our HTTP/3 server; `attack` writes what it likes. */
async function rawClientAgainstServer(seed: string, attack: (client: QuicConnection) => void) {
  const { sim, client, server } = await setup(seed, 'h3');
  const srv = new Http3Connection(server);
  srv.start(sim.now);
  attack(client);
  const serverEvents: Http3Event[] = [];
  const clientEvents: QuicEvent[] = [];
  await sim.run(() => {
    srv.drive(sim.now);
    for (const e of drain(srv)) {
      serverEvents.push(e);
      if (e.type === 'request') srv.respond(e.streamId, 200, [], new TextEncoder().encode('ok'));
    }
    clientEvents.push(...drain(client));
    return clientEvents.some((e) => e.type === 'closed') || serverEvents.some((e) => e.type === 'reset' || e.type === 'end');
  });
  return { serverEvents, clientEvents, client, server, sim, srv };
}

const SETTINGS = encodeSettings(new Map([[SettingId.QPACK_MAX_TABLE_CAPACITY, 0]]));
const uni = (client: QuicConnection, ...parts: Uint8Array[]): number => {
  const id = client.openStream(false);
  client.writeStream(id, concat(...parts));
  return id;
};
const request = (client: QuicConnection, ...parts: Uint8Array[]): number => {
  const id = client.openStream(true);
  client.writeStream(id, concat(...parts), true);
  return id;
};
const GET: Field[] = [[':method', 'GET'], [':scheme', 'https'], [':authority', 'h3.test'], [':path', '/']];
const headers = (fields: readonly Field[]): Uint8Array => encodeFrame(FrameType.HEADERS, encodeFieldSection(fields));

/** The connection error both sides saw: the server's `closed` event and the application CONNECTION_CLOSE the client got. */
function closedWith(r: Awaited<ReturnType<typeof rawClientAgainstServer>>, code: number): void {
  expect(r.serverEvents.find((e) => e.type === 'closed')).toMatchObject({ errorCode: code });
  expect(r.clientEvents.find((e) => e.type === 'closed')).toMatchObject({ application: true, code, local: false });
}

describe('peer errors close the connection with the RFC 9114 / RFC 9204 code', () => {
  const control = (c: QuicConnection, ...frames: Uint8Array[]) => uni(c, Uint8Array.of(StreamType.CONTROL), ...frames);

  it('§6.2.1: a control stream that does not start with SETTINGS → H3_MISSING_SETTINGS', async () => {
    closedWith(await rawClientAgainstServer('e1', (c) => control(c, encodeFrame(FrameType.GOAWAY, fromHex('00')))), H3ErrorCode.H3_MISSING_SETTINGS);
  });
  it('§6.2.1: even an unknown frame type first is H3_MISSING_SETTINGS', async () => {
    closedWith(await rawClientAgainstServer('e1b', (c) => control(c, encodeFrame(0x21, new Uint8Array(3)), SETTINGS)), H3ErrorCode.H3_MISSING_SETTINGS);
  });
  it('§7.2.4: a second SETTINGS → H3_FRAME_UNEXPECTED', async () => {
    closedWith(await rawClientAgainstServer('e2', (c) => control(c, SETTINGS, SETTINGS)), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });
  it('§7.2.1: DATA on the control stream → H3_FRAME_UNEXPECTED', async () => {
    closedWith(await rawClientAgainstServer('e3', (c) => control(c, SETTINGS, dataFrameHeader(0))), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });
  it('§7.2.4.1: an HTTP/2 setting (0x02, ENABLE_PUSH) → H3_SETTINGS_ERROR', async () => {
    closedWith(await rawClientAgainstServer('e4', (c) => control(c, encodeFrame(FrameType.SETTINGS, fromHex('0201')))), H3ErrorCode.H3_SETTINGS_ERROR);
  });
  it('§6.2.1: a second control stream → H3_STREAM_CREATION_ERROR', async () => {
    closedWith(await rawClientAgainstServer('e5', (c) => {
      control(c, SETTINGS);
      control(c, SETTINGS);
    }), H3ErrorCode.H3_STREAM_CREATION_ERROR);
  });
  it('§6.2.1: the control stream ending → H3_CLOSED_CRITICAL_STREAM', async () => {
    closedWith(await rawClientAgainstServer('e6', (c) => {
      const id = control(c, SETTINGS);
      c.writeStream(id, new Uint8Array(0), true);
    }), H3ErrorCode.H3_CLOSED_CRITICAL_STREAM);
  });
  it('§6.2.2: a push stream from a client → H3_STREAM_CREATION_ERROR', async () => {
    closedWith(await rawClientAgainstServer('e7', (c) => uni(c, Uint8Array.of(StreamType.PUSH, 0))), H3ErrorCode.H3_STREAM_CREATION_ERROR);
  });
  it('§7.2.3: CANCEL_PUSH for a push never promised → H3_ID_ERROR', async () => {
    closedWith(await rawClientAgainstServer('e7b', (c) => control(c, SETTINGS, encodeFrame(FrameType.CANCEL_PUSH, fromHex('00')))), H3ErrorCode.H3_ID_ERROR);
  });
  it('§4.1: DATA before HEADERS on a request stream → H3_FRAME_UNEXPECTED', async () => {
    closedWith(await rawClientAgainstServer('e8', (c) => request(c, dataFrameHeader(2), fromHex('6869'), headers(GET))), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });
  it('§7.2.4: SETTINGS on a request stream → H3_FRAME_UNEXPECTED', async () => {
    closedWith(await rawClientAgainstServer('e9', (c) => request(c, SETTINGS)), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });
  it('§7.2.8: an HTTP/2 frame type (0x06 PING) on a request stream → H3_FRAME_UNEXPECTED', async () => {
    closedWith(await rawClientAgainstServer('e10', (c) => request(c, encodeFrame(0x06, new Uint8Array(8)))), H3ErrorCode.H3_FRAME_UNEXPECTED);
  });
  it('§7.1: a request stream ending inside a frame → H3_FRAME_ERROR', async () => {
    closedWith(await rawClientAgainstServer('e11', (c) => request(c, headers(GET).subarray(0, 4))), H3ErrorCode.H3_FRAME_ERROR);
  });
  it('RFC 9204 §2.2.3: a field section using the dynamic table → QPACK_DECOMPRESSION_FAILED', async () => {
    closedWith(await rawClientAgainstServer('e12', (c) => request(c, encodeFrame(FrameType.HEADERS, fromHex('03811011')))), H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
  });
  it('RFC 9204 §4.3: an encoder stream inserting into a table of capacity 0 → QPACK_ENCODER_STREAM_ERROR', async () => {
    closedWith(await rawClientAgainstServer('e13', (c) => uni(c, Uint8Array.of(StreamType.QPACK_ENCODER, 0x20), fromHex('c00f7777772e6578616d706c652e636f6d'))), H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
  });
  it('RFC 9204 §4.4.1: a Section Acknowledgment for a section that needed no acknowledgment → QPACK_DECODER_STREAM_ERROR', async () => {
    closedWith(await rawClientAgainstServer('e14', (c) => uni(c, Uint8Array.of(StreamType.QPACK_DECODER, 0x84))), H3ErrorCode.QPACK_DECODER_STREAM_ERROR);
  });
  it('§4.2.2 / §10.5: a HEADERS frame beyond our field-section limit → H3_EXCESSIVE_LOAD, before its payload is buffered', async () => {
    closedWith(await rawClientAgainstServer('e15', (c) => {
      const id = c.openStream(true);
      c.writeStream(id, fromHex('0180100000')); // HEADERS announcing 1 MiB
    }), H3ErrorCode.H3_EXCESSIVE_LOAD);
  });
});

describe('what is not a connection error', () => {
  it('§4.1.2: a malformed request (no :path) resets that stream with H3_MESSAGE_ERROR; a later request on the same connection is served', async () => {
    const r = await rawClientAgainstServer('m1', (c) => request(c, headers([[':method', 'GET'], [':scheme', 'https'], [':authority', 'h3.test']])));
    expect(r.serverEvents).toContainEqual({ type: 'reset', streamId: 0, errorCode: H3ErrorCode.H3_MESSAGE_ERROR, local: true });
    const id = request(r.client, headers(GET));
    const got: Uint8Array[] = [];
    let fin = false;
    await r.sim.run(() => {
      r.srv.drive(r.sim.now);
      for (const e of drain(r.srv)) if (e.type === 'request') r.srv.respond(e.streamId, 200, [], new TextEncoder().encode('ok'));
      for (const e of drain(r.client)) {
        if (e.type !== 'stream' || !('id' in e.event) || e.event.id !== id) continue;
        for (let x = r.client.readStream(id); x; x = r.client.readStream(id)) {
          got.push(x.data);
          fin ||= x.fin;
        }
      }
      return fin;
    });
    expect(r.client.isClosed).toBe(false);
    // HEADERS(:status 200) then DATA("ok").
    expect(concat(...got)).toEqual(concat(headers([[':status', '200']]), dataFrameHeader(2), new TextEncoder().encode('ok')));
  });

  for (const [what, fields] of [
    ['an uppercase field name', [...GET, ['X-Upper', '1']]],
    ['a pseudo-header after a regular field', [[':method', 'GET'], [':scheme', 'https'], ['x', '1'], [':authority', 'h3.test'], [':path', '/']]],
    ['an unknown pseudo-header', [...GET.slice(0, 3), [':bogus', '1'], [':path', '/']]],
    ['a repeated pseudo-header', [...GET, [':path', '/again']].slice(0, 4).concat([[':path', '/x']])],
    ['a connection-specific field', [...GET, ['connection', 'close']]],
    ['a response pseudo-header in a request', [[':status', '200'], ...GET]],
  ] as [string, Field[]][]) {
    it(`§4.2, §4.3: ${what} → the stream is reset with H3_MESSAGE_ERROR`, async () => {
      const r = await rawClientAgainstServer(`m-${what}`, (c) => request(c, headers(fields)));
      expect(r.serverEvents).toContainEqual({ type: 'reset', streamId: 0, errorCode: H3ErrorCode.H3_MESSAGE_ERROR, local: true });
      expect(r.server.isClosed || r.serverEvents.some((e) => e.type === 'closed')).toBe(false);
    });
  }

  it('§6.2, §9: a unidirectional stream of unknown type is stopped with H3_STREAM_CREATION_ERROR, and requests go on', async () => {
    let unknown = -1;
    const r = await rawClientAgainstServer('u1', (c) => {
      unknown = uni(c, Uint8Array.of(0x21), new Uint8Array(100));
      request(c, headers(GET));
    });
    const stopped = [...r.clientEvents];
    await r.sim.run(() => {
      r.srv.drive(r.sim.now);
      stopped.push(...drain(r.client));
      return stopped.some((e) => e.type === 'stream' && e.event.type === 'stopped' && e.event.id === unknown);
    });
    expect(stopped.find((e) => e.type === 'stream' && e.event.type === 'stopped')).toMatchObject({ event: { errorCode: H3ErrorCode.H3_STREAM_CREATION_ERROR } });
    expect(r.serverEvents.some((e) => e.type === 'request')).toBe(true);
    expect(r.serverEvents.some((e) => e.type === 'closed')).toBe(false);
  });
});

describe('a server breaking the rules, seen by our client', () => {
  async function rawServer(seed: string, answer: (server: QuicConnection, requestId: number) => void) {
    const { sim, client, server } = await setup(seed, 'h3');
    const c = new Http3Connection(client);
    c.start(sim.now);
    const id = c.get('h3.test', '/');
    const events: Http3Event[] = [];
    let answered = false;
    await sim.run(() => {
      c.drive(sim.now);
      events.push(...drain(c));
      for (const e of drain(server)) {
        if (!answered && e.type === 'stream' && 'id' in e.event && e.event.id === id && e.event.type !== 'opened') {
          answered = true;
          answer(server, id);
        }
      }
      return events.some((e) => e.type === 'closed' || e.type === 'reset' || e.type === 'end');
    });
    return events;
  }

  it('§4.3.2: a response without a valid :status resets the stream with H3_MESSAGE_ERROR', async () => {
    const events = await rawServer('s1', (s, id) => s.writeStream(id, headers([[':status', '2000']]), true));
    expect(events).toContainEqual({ type: 'reset', streamId: 0, errorCode: H3ErrorCode.H3_MESSAGE_ERROR, local: true });
  });
  it('§6.1: a server-initiated bidirectional stream → H3_STREAM_CREATION_ERROR', async () => {
    const events = await rawServer('s2', (s) => s.writeStream(s.openStream(true), headers([[':status', '200']]), true));
    expect(events).toContainEqual(expect.objectContaining({ type: 'closed', errorCode: H3ErrorCode.H3_STREAM_CREATION_ERROR }));
  });
  it('§4.6: a push stream when we sent no MAX_PUSH_ID → H3_ID_ERROR', async () => {
    const events = await rawServer('s3', (s) => s.writeStream(s.openStream(false), Uint8Array.of(StreamType.PUSH, 0)));
    expect(events).toContainEqual(expect.objectContaining({ type: 'closed', errorCode: H3ErrorCode.H3_ID_ERROR }));
  });
  it('§5.2: GOAWAY naming a stream that is not a client request stream → H3_ID_ERROR', async () => {
    const events = await rawServer('s4', (s) => s.writeStream(s.openStream(false), concat(Uint8Array.of(StreamType.CONTROL), SETTINGS, encodeFrame(FrameType.GOAWAY, fromHex('01')))));
    expect(events).toContainEqual(expect.objectContaining({ type: 'closed', errorCode: H3ErrorCode.H3_ID_ERROR }));
  });
  it('§4.1: interim 1xx responses are passed over; the final one counts', async () => {
    const events = await rawServer('s5', (s, id) => s.writeStream(id, concat(headers([[':status', '103']]), headers([[':status', '200']]), dataFrameHeader(1), fromHex('21')), true));
    expect(events.filter((e) => e.type === 'response')).toEqual([{ type: 'response', streamId: 0, status: 200, fields: [] }]);
    expect(events).toContainEqual({ type: 'data', streamId: 0, data: fromHex('21') });
  });
});

describe('a request the client abandons (RFC 9114 §4.1.1)', () => {
  it('h3: respond() after the client stopped the stream returns false, and the connection serves the next request', async () => {
    const p = await h3Pair('h3 cancel');
    const srvEvents: Http3Event[] = [];
    const first = p.c.get('h3.test', '/size/10');
    p.client.stopSending(first, H3ErrorCode.H3_REQUEST_CANCELLED);
    await p.sim.run(() => {
      p.c.drive(p.sim.now);
      p.srv.drive(p.sim.now);
      srvEvents.push(...drain(p.srv));
      return srvEvents.some((e) => e.type === 'reset' && e.streamId === first);
    });
    expect(srvEvents).toContainEqual({ type: 'reset', streamId: first, errorCode: H3ErrorCode.H3_REQUEST_CANCELLED, local: false });
    expect(p.srv.respond(first, 200, [], new Uint8Array(10))).toBe(false);
    const second = p.c.get('h3.test', '/size/3');
    await p.sim.run(() => {
      p.step();
      return p.clientEvents.some((e) => e.type === 'end' && e.streamId === second);
    });
    expect(p.clientEvents.find((e) => e.type === 'response' && e.streamId === second)).toMatchObject({ status: 200 });
    expect(p.client.isClosed || p.server.isClosed).toBe(false);
  });

  it('hq: respond() after the client stopped the stream returns false', async () => {
    const { sim, client, server } = await setup('hq cancel', 'hq-interop');
    const c = new HqConnection(client);
    const srv = new HqConnection(server);
    const id = c.request('/x');
    const got: HqEvent[] = [];
    await sim.run(() => {
      srv.drive();
      got.push(...drain(srv));
      return got.some((e) => e.type === 'request');
    });
    client.stopSending(id, H3ErrorCode.H3_REQUEST_CANCELLED);
    await sim.run(() => {
      srv.drive();
      got.push(...drain(srv));
      return got.some((e) => e.type === 'reset');
    });
    expect(srv.respond(id, new Uint8Array(5))).toBe(false);
    expect(server.isClosed).toBe(false);
  });
});

describe('RFC 9114 §4.1.2: content-length must match the DATA', () => {
  const post = (length: string): Field[] => [[':method', 'POST'], [':scheme', 'https'], [':authority', 'h3.test'], [':path', '/'], ['content-length', length]];
  it('a request body shorter than its content-length resets the stream with H3_MESSAGE_ERROR', async () => {
    const r = await rawClientAgainstServer('cl1', (c) => request(c, headers(post('5')), dataFrameHeader(3), fromHex('616263')));
    expect(r.serverEvents).toContainEqual({ type: 'reset', streamId: 0, errorCode: H3ErrorCode.H3_MESSAGE_ERROR, local: true });
  });
  it('a request body longer than its content-length resets the stream with H3_MESSAGE_ERROR', async () => {
    const r = await rawClientAgainstServer('cl2', (c) => request(c, headers(post('2')), dataFrameHeader(3), fromHex('616263')));
    expect(r.serverEvents).toContainEqual({ type: 'reset', streamId: 0, errorCode: H3ErrorCode.H3_MESSAGE_ERROR, local: true });
    expect(r.serverEvents.some((e) => e.type === 'end')).toBe(false);
  });
  it('two different content-length values, or one that is not a number, are malformed', async () => {
    for (const [seed, extra] of [['cl3', [['content-length', '3'], ['content-length', '4']]], ['cl4', [['content-length', '-1']]]] as [string, Field[]][]) {
      const r = await rawClientAgainstServer(seed, (c) => request(c, headers([...GET, ...extra])));
      expect(r.serverEvents).toContainEqual({ type: 'reset', streamId: 0, errorCode: H3ErrorCode.H3_MESSAGE_ERROR, local: true });
    }
  });
  it('a matching content-length is a complete request', async () => {
    const r = await rawClientAgainstServer('cl5', (c) => request(c, headers(post('3')), dataFrameHeader(3), fromHex('616263')));
    expect(r.serverEvents).toContainEqual({ type: 'data', streamId: 0, data: fromHex('616263') });
    expect(r.serverEvents).toContainEqual({ type: 'end', streamId: 0 });
  });
});
