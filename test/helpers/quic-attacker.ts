/**
 * Speaking QUIC as a hostile peer: client Initials sealed with keys from a DCID
 * the attacker chose, and an established connection whose 1-RTT keys come from
 * the client's key log, so a test or a benchmark can send the server any
 * packet an authenticated peer could. Used by the hardening tests and by
 * `bench/adversarial.ts`.
 */
import { QuicConnection, type QuicClientOptions, type QuicEvent, type QuicServerOptions } from '../../src/quic/connection/connection.js';
import { decodeFrames } from '../../src/quic/frames/decode.js';
import { encodeFrames } from '../../src/quic/frames/encode.js';
import type { Frame } from '../../src/quic/frames/types.js';
import { parsePacket } from '../../src/quic/header.js';
import { deriveDirectionalKeys, initialKeys, quicCipherSuite } from '../../src/quic/keys.js';
import { openPacket, sealPacket } from '../../src/quic/protection.js';
import { QUIC_V1 } from '../../src/quic/versions.js';
import { QuicSim } from './quic-sim.js';
import { keyLogSecrets } from './tls-attacker.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from './tls-pair.js';

/** An attacker's client Initials: keys from a DCID of its choosing (RFC 9001 §5.2), padded to 1200 bytes. */
export async function attackerInitials(seed: string) {
  const provider = seededProvider(seed);
  const dcid = new Uint8Array(8).fill(0xd1);
  const scid = new Uint8Array(8).fill(0x5c);
  const keys = await initialKeys(provider, QUIC_V1, dcid);
  let pn = 0;
  return async (frames: Frame[]): Promise<Uint8Array> => {
    const size = encodeFrames(frames).length;
    const padded: Frame[] = size < 1180 ? [...frames, { type: 'padding', length: 1180 - size }] : frames;
    return sealPacket(keys.client, { type: 'initial', version: QUIC_V1, dcid, scid, token: new Uint8Array(0) }, encodeFrames(padded), { packetNumber: pn++ });
  };
}

/** Splits `frames` into datagram-sized groups. */
export function groups(frames: Frame[], budget = 1100): Frame[][] {
  const out: Frame[][] = [];
  let cur: Frame[] = [];
  let used = 0;
  for (const f of frames) {
    const n = encodeFrames([f]).length;
    if (used + n > budget) {
      out.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(f);
    used += n;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * A completed handshake in the simulator, plus the 1-RTT keys of both
 * directions from the client's key log: the test then speaks as the client
 * (an authenticated but hostile peer) straight to the server.
 */
export async function established(
  seed: string, clientParams: Record<string, number> = {}, serverParams: Record<string, number> = {}, clientTls: Partial<QuicClientOptions['tls']> = {},
) {
  const provider = seededProvider(seed);
  const key = await testKey(provider, 'ed25519');
  const so: QuicServerOptions = { tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['h'] }, transportParameters: serverParams };
  const secrets = keyLogSecrets();
  const client = await QuicConnection.connect({
    tls: { provider, now: clock, serverName: 'h', verifier: pinnedKeyVerifier(key), alpnProtocols: ['h'], keyLog: secrets.log, ...clientTls },
    transportParameters: clientParams,
  }, 1_000_000);
  const sim = new QuicSim(client, so, { seed });
  await sim.run(() => client.isHandshakeConfirmed && sim.server?.isHandshakeConfirmed === true);
  const server = sim.server as QuicConnection;
  let info: Extract<QuicEvent, { type: 'connected' }>['info'] | undefined;
  for (let e = client.poll(); e; e = client.poll()) if (e.type === 'connected') info = e.info;
  for (let e = server.poll(); e; e = server.poll());
  const suite = quicCipherSuite((info as NonNullable<typeof info>).cipherSuite.id);
  if (!suite) throw new Error('no QUIC suite');
  const toServer = await deriveDirectionalKeys(provider, QUIC_V1, suite, secrets.get('CLIENT_TRAFFIC_SECRET_0'));
  const toClient = await deriveDirectionalKeys(provider, QUIC_V1, suite, secrets.get('SERVER_TRAFFIC_SECRET_0'));
  let pn = 10_000;
  let pnToClient = 10_000;
  let now = sim.now;
  return {
    client, server, suite,
    /** The 1-RTT traffic secrets, for a test that rolls its own keys (key updates). */
    secrets: { client: secrets.get('CLIENT_TRAFFIC_SECRET_0'), server: secrets.get('SERVER_TRAFFIC_SECRET_0') },
    get now() {
      return now;
    },
    /** One 1-RTT packet from the "client", sealed but not yet sent (a benchmark seals before it starts the clock). */
    seal(frames: Frame[], dcid: Uint8Array = server.localCid): Promise<Uint8Array> {
      return sealPacket(toServer, { type: '1rtt', dcid }, encodeFrames(frames), { packetNumber: pn++ });
    },
    /** Hands a datagram to the server, one millisecond after the last, from `remote` (default: the current path). */
    async deliver(datagram: Uint8Array, remote?: string): Promise<void> {
      now += 1;
      await server.handleDatagram(datagram, now, remote);
    },
    /** One 1-RTT packet from the "server" to the client (a hostile server's view). */
    async sendToClient(frames: Frame[]): Promise<void> {
      now += 1;
      await client.handleDatagram(await sealPacket(toClient, { type: '1rtt', dcid: client.localCid }, encodeFrames(frames), { packetNumber: pnToClient++ }), now);
    },
    /** One 1-RTT packet from the "client" to the server. */
    async send(frames: Frame[]): Promise<void> {
      await this.deliver(await this.seal(frames));
    },
    /** Everything the server sends now, decrypted: its frames, and the DCIDs it used. */
    async collect(): Promise<{ frames: Frame[]; dcids: Uint8Array[]; datagrams: { remote: string; size: number; frames: Frame[] }[]; packetNumbers: number[] }> {
      const frames: Frame[] = [];
      const packetNumbers: number[] = [];
      const dcids: Uint8Array[] = [];
      const datagrams: { remote: string; size: number; frames: Frame[] }[] = [];
      let largest = 0;
      for (let t = await server.pollTransmit(now); t; t = await server.pollTransmit(now)) {
        const d = t.data;
        const pkt = parsePacket(d, 0, { shortDcidLength: 8 }).packet;
        if (!('pnOffset' in pkt)) continue;
        const opened = await openPacket(toClient, pkt, largest);
        if (!opened) throw new Error('server packet did not decrypt');
        largest = Math.max(largest, opened.packetNumber);
        packetNumbers.push(opened.packetNumber);
        dcids.push(pkt.dcid);
        const fs = decodeFrames(opened.payload, '1rtt');
        frames.push(...fs);
        datagrams.push({ remote: t.remote, size: d.length, frames: fs });
      }
      return { frames, dcids, datagrams, packetNumbers };
    },
  };
}

