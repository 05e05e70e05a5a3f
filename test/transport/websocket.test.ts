/**
 * TLS 1.3 over a WebSocket (pqtls/transport): records carried in binary messages (no framing of
 * their own), over an in-memory WebSocket pair shaped like the browser's. The attacker rule holds
 * at this seam too: a text message, a flood the connection cannot take, or a close without
 * close_notify (a truncation, RFC 8446 §6.1) ends that one connection with an error, never an
 * exception out of an event listener.
 */
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../src/bytes.js';
import { NamedGroup, SignatureScheme } from '../../src/pq/index.js';
import {
  WebSocketTransportError, acceptWebSocket, connectWebSocket, type TlsWebSocket, type WebSocketEventLike, type WebSocketLike,
} from '../../src/transport/index.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

type Listener = (e: WebSocketEventLike) => void;

/** One end of an in-memory WebSocket pair; messages are delivered on a later task, as a browser does. */
class FakeWebSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  peer: FakeWebSocket | undefined;
  readonly sent: Uint8Array[] = [];
  closeCode: number | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();

  addEventListener(type: string, f: Listener): void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)?.add(f);
  }
  removeEventListener(type: string, f: Listener): void {
    this.listeners.get(type)?.delete(f);
  }
  emit(type: string, e: WebSocketEventLike = {}): void {
    for (const f of [...(this.listeners.get(type) ?? [])]) f(e);
  }
  open(): void {
    this.readyState = 1;
    this.emit('open');
  }
  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(data.slice());
    const copy = data.slice();
    // An ArrayBuffer, as binaryType 'arraybuffer' delivers it.
    setTimeout(() => this.peer?.emit('message', { data: copy.buffer }), 0);
  }
  close(code = 1000): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    this.closeCode = code;
    setTimeout(() => {
      this.emit('close', { code });
      if (this.peer && this.peer.readyState < 2) {
        this.peer.readyState = 3;
        this.peer.emit('close', { code });
      }
    }, 0);
  }
}

function pair(): [FakeWebSocket, FakeWebSocket] {
  const a = new FakeWebSocket();
  const b = new FakeWebSocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

async function setup(seed: string): Promise<{ client: TlsWebSocket; server: TlsWebSocket; cws: FakeWebSocket; sws: FakeWebSocket }> {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ml-dsa-65');
  const [cws, sws] = pair();
  const server = acceptWebSocket(sws, { provider, now: clock, certificate: { chain: [key.publicKey], ...key } });
  const client = await connectWebSocket(cws, { provider, now: clock, serverName: 'ws.test', verifier: pinnedKeyVerifier(key) });
  // The client's socket opens after the ClientHello is ready: it must wait, then go out.
  sws.open();
  setTimeout(() => cws.open(), 5);
  return { client, server, cws, sws };
}

describe('TLS 1.3 over a WebSocket', () => {
  it('completes an X25519MLKEM768 + ML-DSA-65 handshake, carries data both ways and closes with close_notify', async () => {
    const { client, server, cws, sws } = await setup('ws-basic');
    expect(cws.binaryType).toBe('arraybuffer');
    const [ci, si] = await Promise.all([client.handshake, server.handshake]);
    expect(ci.group).toBe(NamedGroup.X25519MLKEM768);
    expect(ci.peerSignatureScheme).toBe(SignatureScheme.mldsa65);
    expect(si.group).toBe(NamedGroup.X25519MLKEM768);
    await client.write(utf8('over the websocket'));
    expect(fromUtf8((await server.read()) as Uint8Array)).toBe('over the websocket');
    const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
    await server.write(big);
    let got = 0;
    while (got < big.length) got += ((await client.read()) as Uint8Array).length;
    expect(got).toBe(big.length);
    // Every message stays within 64 KiB, so a relay can cap its frames.
    expect(Math.max(...sws.sent.map((m) => m.length))).toBeLessThanOrEqual(64 * 1024);
    await client.close();
    expect(await server.read()).toBeUndefined();
    await server.close();
    expect(await client.closed).toBeUndefined();
    expect(await server.closed).toBeUndefined();
  });

  it('a text message ends the connection with WebSocketTransportError and close code 1002', async () => {
    const { client, server, sws } = await setup('ws-text');
    await Promise.all([client.handshake, server.handshake]);
    sws.emit('message', { data: 'not a record' });
    expect(await server.closed).toBeInstanceOf(WebSocketTransportError);
    expect(sws.closeCode).toBe(1002);
    await expect(server.read()).rejects.toThrow(/text message/);
  });

  it('a server ending the WebSocket without close_notify is a truncation: reads reject', async () => {
    const { client, server, sws } = await setup('ws-truncate');
    await Promise.all([client.handshake, server.handshake]);
    const read = client.read();
    sws.close(1000);
    await expect(read).rejects.toThrow(/without a TLS close_notify/);
  });

  it('garbage from the peer ends that connection with a TLS alert, never an exception out of the listener', async () => {
    const { client, server, cws } = await setup('ws-garbage');
    await Promise.all([client.handshake, server.handshake]);
    cws.send(new Uint8Array([23, 3, 3, 0, 20, ...new Uint8Array(20)]));
    const err = await server.closed;
    expect(err?.name).toBe('BadRecordMacError');
    await expect(server.read()).rejects.toBe(err);
  });

  it('more unprocessed bytes than maxPendingBytes end the connection instead of queueing without end', async () => {
    const provider = seededProvider('ws-flood');
    const key = await testKey(provider, 'ml-dsa-65');
    const [cws, sws] = pair();
    const server = acceptWebSocket(sws, { provider, now: clock, certificate: { chain: [key.publicKey], ...key } }, { maxPendingBytes: 20_000 });
    sws.open();
    cws.open();
    // Records arriving faster than the connection takes them (each message is handed over at once).
    for (let i = 0; i < 3; i++) sws.emit('message', { data: new Uint8Array(9000).buffer });
    const err = await server.closed;
    expect(err).toBeInstanceOf(WebSocketTransportError);
    expect(err?.message).toMatch(/20000 bytes received and not yet processed/);
  });

  it('a transport whose send throws mid-handshake ends that connection, not the process with an unhandled rejection', async () => {
    const { client, server, sws } = await setup('ws-send-throws');
    // The server's socket is torn down under it: its ServerHello flight cannot go out.
    sws.send = () => {
      throw new Error('socket torn down');
    };
    expect((await server.closed)?.message).toBe('socket torn down');
    await expect(server.handshake).rejects.toThrow('socket torn down');
    void client;
  });
});
