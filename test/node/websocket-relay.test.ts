/**
 * `pqtls relay` / createWebSocketRelay: the server side of RFC 6455 (opening handshake §4.2,
 * framing §5, close §7) bridged to TCP. Checked with a raw client written here, so every byte on
 * the wire is the test's: masked frames (§5.3), a frame split into single bytes, control frames,
 * and the refusals (unmasked, oversize, text) that end one connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameReader, createWebSocketRelay, encodeFrame } from '../../src/node/websocket-relay.js';
import { main } from '../../src/cli/main.js';
import { captureIo } from '../helpers/cli-io.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function listen(s: Server): Promise<number> {
  servers.push(s);
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
}

/** A client frame: masked, as §5.3 requires of every client. */
function clientFrame(opcode: number, payload: Uint8Array, fin = true, masked = true): Uint8Array {
  const mask = masked ? new Uint8Array(randomBytes(4)) : new Uint8Array(0);
  const n = payload.length;
  const len = n < 126 ? [n] : n < 65536 ? [126, n >> 8, n & 0xff] : [127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const head = new Uint8Array([(fin ? 0x80 : 0) | opcode, (masked ? 0x80 : 0) | (len[0] as number), ...len.slice(1), ...mask]);
  const body = payload.map((b, i) => (masked ? b ^ (mask[i & 3] as number) : b));
  return new Uint8Array([...head, ...body]);
}

/** An echo server behind the relay, and a raw WebSocket client through it. */
async function relayed(): Promise<{ sock: Socket; frames: () => Promise<{ opcode: number; payload: Uint8Array }[]>; tcp: Socket[] }> {
  const tcp: Socket[] = [];
  const echo = createServer((s) => {
    tcp.push(s);
    s.on('error', () => undefined);
    s.pipe(s);
  });
  const target = await listen(echo);
  const port = await listen(createWebSocketRelay({ host: '127.0.0.1', port: target }));
  const sock = connect(port, '127.0.0.1');
  const key = randomBytes(16).toString('base64');
  sock.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let buf = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); });
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  await new Promise<void>((r) => {
    const check = (): void => {
      if (buf.includes('\r\n\r\n')) r();
      else setTimeout(check, 5);
    };
    check();
  });
  const end = buf.indexOf('\r\n\r\n') + 4;
  const head = buf.subarray(0, end).toString('latin1');
  expect(head).toMatch(/^HTTP\/1\.1 101 /);
  // §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + the GUID)).
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  expect(head).toContain(`Sec-WebSocket-Accept: ${accept}`);
  buf = buf.subarray(end);
  /** Server frames received so far (unmasked, §5.1), once the socket has closed or quiet for a moment. */
  const frames = async (): Promise<{ opcode: number; payload: Uint8Array }[]> => {
    await Promise.race([ended, new Promise((r) => setTimeout(r, 300))]);
    const out: { opcode: number; payload: Uint8Array }[] = [];
    let o = 0;
    while (o + 2 <= buf.length) {
      expect(buf[o + 1]! & 0x80).toBe(0);
      let n = buf[o + 1]! & 0x7f;
      let h = 2;
      if (n === 126) { n = buf.readUInt16BE(o + 2); h = 4; } else if (n === 127) { n = Number(buf.readBigUInt64BE(o + 2)); h = 10; }
      if (o + h + n > buf.length) break;
      out.push({ opcode: buf[o]! & 0x0f, payload: new Uint8Array(buf.subarray(o + h, o + h + n)) });
      o += h + n;
    }
    return out;
  };
  return { sock, frames, tcp };
}

describe('WebSocket-to-TCP relay (RFC 6455 server side)', () => {
  it('bridges binary messages to TCP and back, a frame sent a byte at a time included; answers ping with pong', async () => {
    const { sock, frames } = await relayed();
    sock.write(clientFrame(0x2, new Uint8Array([1, 2, 3])));
    for (const b of clientFrame(0x2, new Uint8Array(300).fill(7))) sock.write(new Uint8Array([b]));
    sock.write(clientFrame(0x9, new Uint8Array([0x70])));
    const got = await frames();
    const data = got.filter((f) => f.opcode === 0x2).flatMap((f) => [...f.payload]);
    expect(data).toEqual([1, 2, 3, ...new Array<number>(300).fill(7)]);
    expect(got.filter((f) => f.opcode === 0xa).map((f) => [...f.payload])).toEqual([[0x70]]);
    sock.destroy();
  });

  it('a close frame is answered with close 1000 and the TCP side ended', async () => {
    const { sock, frames } = await relayed();
    sock.write(clientFrame(0x8, new Uint8Array([0x03, 0xe8])));
    const got = await frames();
    expect(got.at(-1)).toEqual({ opcode: 0x8, payload: new Uint8Array([0x03, 0xe8]) });
  });

  it.each([
    ['an unmasked frame (§5.1)', clientFrame(0x2, new Uint8Array(4), true, false), 1002],
    ['a text frame (records are binary)', clientFrame(0x1, new Uint8Array([0x61])), 1003],
    ['a frame announcing more than the cap, before any payload', new Uint8Array([0x82, 0xff, 0, 0, 0, 0, 0x7f, 0, 0, 0, 1, 2, 3, 4]), 1009],
    ['a control frame over 125 bytes (§5.5)', clientFrame(0x9, new Uint8Array(126)), 1002],
  ])('%s ends that connection with its close code', async (_name, bytes, code) => {
    const { sock, frames, tcp } = await relayed();
    sock.write(bytes);
    const got = await frames();
    expect(got.at(-1)).toEqual({ opcode: 0x8, payload: new Uint8Array([code >> 8, code & 0xff]) });
    await new Promise((r) => setTimeout(r, 50));
    expect(tcp.every((s) => s.destroyed)).toBe(true);
  });

  it('refuses what is not a WebSocket upgrade, a foreign origin, and connections over maxConnections', async () => {
    const target = await listen(createServer((s) => s.on('error', () => undefined)));
    const port = await listen(createWebSocketRelay({ host: '127.0.0.1', port: target, maxConnections: 1, allowedOrigins: ['http://app.test'] }));
    const sockets: Socket[] = [];
    const upgrade = (origin: string, version = '13'): Promise<string> => new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('\r\n\r\n')) resolve(got.split('\r\n')[0] ?? '');
      });
      s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
      s.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${origin}\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: ${version}\r\n\r\n`);
    });
    expect(await upgrade('http://evil.test')).toMatch(/^HTTP\/1\.1 403/);
    expect(await upgrade('http://app.test', '8')).toMatch(/^HTTP\/1\.1 426/);
    expect(await upgrade('http://app.test')).toMatch(/^HTTP\/1\.1 101/);
    expect(await upgrade('http://app.test')).toMatch(/^HTTP\/1\.1 503/);
    const plain = await fetch(`http://127.0.0.1:${port}/`);
    expect(plain.status).toBe(426);
    for (const s of sockets) s.destroy();
  });

  it('FrameReader joins a frame once, however it arrives, and refuses an oversize header before its payload', () => {
    const r = new FrameReader(1024);
    const frame = clientFrame(0x2, new Uint8Array(1000).fill(9));
    const frames = [...frame].flatMap((b) => r.push(new Uint8Array([b])));
    expect(frames).toHaveLength(1);
    expect(frames[0]?.payload).toEqual(new Uint8Array(1000).fill(9));
    expect(() => new FrameReader(1024).push(new Uint8Array([0x82, 0xfe, 0x04, 0x01]))).toThrow(/frame of 1025 bytes/);
    expect(encodeFrame(0x2, new Uint8Array(70_000)).subarray(0, 10)).toEqual(new Uint8Array([0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]));
  });

  it('pqtls relay: usage errors exit 2 with the help', async () => {
    const io = captureIo();
    expect(await main(['relay', '--ws', '0'], io)).toBe(2);
    expect(io.errors()).toContain('usage: pqtls relay');
    expect(await main(['relay', '--ws', '0', '--to', 'nohostport'], captureIo())).toBe(2);
  });
});
