/**
 * The TCP adapter and a peer that hangs up right behind its Finished (OpenSSL
 * `s_client` with empty input does): net.Socket reports EOF and close even
 * while paused, so with our provider still busy on the Finished chunk (the
 * tickets drawn from a card's RNG) both arrive mid-processing. The handshake
 * the peer completed must complete here too ('secure', then end and close),
 * not be taken for a truncation (RFC 8446 §6.1) or vanish without 'secure'.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PqTlsSocket } from '../../src/node/socket.js';
import type { CryptoProvider } from '../../src/pq/index.js';
import { TlsConnection } from '../../src/tls13/connection.js';
import { TicketKeyRing } from '../../src/tls13/tickets.js';
import { FakeSocket } from '../helpers/node-sockets.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';

describe('EOF and close right behind the client Finished, while the server is still processing it', () => {
  it('the handshake completes: secure, then end and close, and no error', async () => {
    const soft = seededProvider('eof-behind-finished');
    const key = await testKey(soft, 'ed25519');
    let slowRandom = false;
    // Once armed, every random draw (the tickets made on the client's Finished) answers a little later.
    const slow: CryptoProvider = {
      ...soft,
      random: async (n) => {
        if (slowRandom) await new Promise((r) => setTimeout(r, 20));
        return soft.random(n);
      },
    };
    const fake = new FakeSocket();
    const server = new PqTlsSocket(
      TlsConnection.server({ provider: slow, now: clock, certificate: { chain: [key.publicKey], ...key }, tickets: { sealer: await TicketKeyRing.create(soft) } }),
      fake as unknown as Socket, 'server',
    );
    const events: string[] = [];
    server.on('secure', () => events.push('secure'));
    server.on('error', (e) => events.push(`error: ${e.message}`));
    server.on('end', () => events.push('end'));
    server.on('close', () => events.push('close'));
    server.resume();
    const client = await TlsConnection.client({ provider: soft, now: clock, serverName: 'x', verifier: pinnedKeyVerifier(key) });
    fake.emit('data', Buffer.from(client.takeOutput()));
    while (fake.written.length === 0) await new Promise((r) => setTimeout(r, 1));
    await client.receive(Buffer.concat(fake.written.splice(0)));
    expect(client.handshakeInfo).toBeDefined();
    slowRandom = true;
    fake.emit('data', Buffer.from(client.takeOutput()));
    fake.emit('end');
    fake.emit('close');
    while (!events.includes('close')) await new Promise((r) => setTimeout(r, 1));
    expect(events).toEqual(['secure', 'end', 'close']);
  });
});
