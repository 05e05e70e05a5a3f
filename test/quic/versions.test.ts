/**
 * QUIC versions as endpoint configuration (RFC 9000 §15, RFC 9369): each
 * endpoint speaks the versions in its `versions` option, looked up in an
 * immutable table of its own. There is no process-wide registry, so what one
 * endpoint accepts cannot change what a packet means to another.
 */
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import { ConfigError } from '../../src/errors.js';
import {
  DEFAULT_QUIC_VERSIONS, InvalidPacketError, QUIC_V1, QUIC_V2, QuicConnection, RetryTokens, parsePacket, verifyRetry,
  versionTable, type QuicServerOptions, type QuicVersion, type RetryPacket,
} from '../../src/quic/index.js';
import { QuicSim } from '../helpers/quic-sim.js';
import { clock, pinnedKeyVerifier, seededProvider, testKey } from '../helpers/tls-pair.js';
import { PRIVATE_QUIC_VERSION } from '../helpers/private-quic-version.js';

const PRIVATE = PRIVATE_QUIC_VERSION;

/** A long-header Initial of `number` with empty token and a one-byte body, enough for the header parser. */
const initialHeader = (v: QuicVersion): Uint8Array =>
  fromHex(((0xc0 | (v.longTypeCodes.initial << 4)).toString(16)) + v.number.toString(16).padStart(8, '0') + '0401020304' + '00' + '00' + '02' + '0000');

describe('version tables', () => {
  it('default to v1 then v2, the order RFC 9369 §4 keeps', () => {
    const t = versionTable(DEFAULT_QUIC_VERSIONS);
    expect(t.numbers).toEqual([0x00000001, 0x6b3343cf]);
    expect(t.get(1)).toBe(QUIC_V1);
    expect(t.get(0x6b3343cf)).toBe(QUIC_V2);
    expect(t.get(0xff00beef)).toBeUndefined();
    expect(Object.isFrozen(t) && Object.isFrozen(t.versions) && Object.isFrozen(t.numbers)).toBe(true);
  });

  it('keep the order they are given', () => {
    expect(versionTable([QUIC_V2, PRIVATE, QUIC_V1]).numbers).toEqual([0x6b3343cf, 0xff00beef, 1]);
  });

  it.each<[string, readonly QuicVersion[]]>([
    ['an empty list', []],
    ['a version listed twice', [QUIC_V1, QUIC_V2, { ...QUIC_V1 }]],
    ['a reserved number (0x?a?a?a?a, RFC 9000 §15)', [{ ...PRIVATE, number: 0x1a2a3a4a }]],
    ['number 0, which means Version Negotiation', [{ ...PRIVATE, number: 0 }]],
    ['type codes that are not a permutation of 0..3', [{ ...PRIVATE, longTypeCodes: { initial: 0, '0rtt': 0, handshake: 2, retry: 3 } }]],
    ['a Retry key that is not an AES-128 key (RFC 9001 §5.8)', [{ ...PRIVATE, retryKey: new Uint8Array(32) }]],
  ])('refuse %s', (_what, list) => {
    expect(() => versionTable(list)).toThrow(ConfigError);
  });
});

describe('the packet parser reads the versions it is given', () => {
  it('a private version is parsed under a table that has it, and is unsupported under the default', () => {
    const bytes = initialHeader(PRIVATE);
    expect(parsePacket(bytes, 0, { shortDcidLength: 0 }).packet).toMatchObject({ type: 'unsupported-version', version: 0xff00beef });
    const table = versionTable([PRIVATE]);
    expect(parsePacket(bytes, 0, { shortDcidLength: 0, versions: table }).packet).toMatchObject({ type: 'initial', version: PRIVATE });
    // Building a table changed nothing for anyone else.
    expect(parsePacket(bytes, 0, { shortDcidLength: 0 }).packet.type).toBe('unsupported-version');
  });

  it('an endpoint that speaks only v2 treats a v1 Initial as a version it does not speak', () => {
    const bytes = initialHeader(QUIC_V1);
    expect(parsePacket(bytes, 0, { shortDcidLength: 0, versions: versionTable([QUIC_V2]) }).packet.type).toBe('unsupported-version');
  });
});

describe('QuicConnection versions option', () => {
  async function endpoints(seed: string, client: readonly QuicVersion[] | undefined, server: readonly QuicVersion[] | undefined) {
    const provider = seededProvider(seed);
    const key = await testKey(provider, 'ed25519');
    const serverOptions: QuicServerOptions = {
      tls: { provider, now: clock, certificate: { chain: [key.publicKey], ...key }, alpnProtocols: ['v'] },
      ...(server ? { versions: server } : {}),
    };
    const conn = await QuicConnection.connect({
      tls: { provider, now: clock, serverName: 'quic.test', verifier: pinnedKeyVerifier(key), alpnProtocols: ['v'] },
      ...(client ? { versions: client } : {}),
    }, 1_000_000);
    return { conn, serverOptions, provider };
  }

  it('two endpoints configured with a private version complete a handshake in it', async () => {
    const { conn, serverOptions } = await endpoints('private version', [PRIVATE], [PRIVATE, QUIC_V1]);
    expect(conn.version).toBe(PRIVATE);
    const first = (await conn.pollTransmit(1_000_000))?.data;
    expect(first && new DataView(first.buffer, first.byteOffset).getUint32(1)).toBe(0xff00beef);
    const server = await QuicConnection.accept(serverOptions, first as Uint8Array, 1_000_000);
    expect(server.version).toBe(PRIVATE);
    const sim = new QuicSim(conn, serverOptions);
    sim.server = server;
    await sim.run(() => conn.isHandshakeComplete && server.isHandshakeComplete);
    expect([conn.isHandshakeComplete, server.isHandshakeComplete]).toEqual([true, true]);
    expect(conn.error).toBeUndefined();
    expect(server.error).toBeUndefined();
  });

  it('a server with the default versions does not accept a private-version Initial', async () => {
    const { conn, serverOptions } = await endpoints('private refused', [PRIVATE], undefined);
    const first = ((await conn.pollTransmit(1_000_000))?.data) as Uint8Array;
    await expect(QuicConnection.accept(serverOptions, first, 1_000_000)).rejects.toThrow(InvalidPacketError);
  });

  it('a client starts in the first of its versions, and refuses a `version` outside them', async () => {
    expect((await endpoints('v2 first', [QUIC_V2, QUIC_V1], undefined)).conn.version).toBe(QUIC_V2);
    await expect(endpoints('outside', [QUIC_V1], undefined).then(({ provider }) => QuicConnection.connect({
      tls: { provider, now: clock, verifier: { verify: () => Promise.reject(new Error('unused')) } },
      versions: [QUIC_V1], version: PRIVATE,
    }, 0))).rejects.toThrow(ConfigError);
  });

  it('Retry tokens are issued for Initials of the versions the server was given (RFC 9000 §8.1.2)', async () => {
    const { conn, provider } = await endpoints('retry versions', [PRIVATE], undefined);
    const first = ((await conn.pollTransmit(1_000_000))?.data) as Uint8Array;
    expect(await (await RetryTokens.create(provider)).retryFor(first, 'client', 0)).toBeUndefined();
    const retry = await (await RetryTokens.create(provider, { versions: [PRIVATE] })).retryFor(first, 'client', 0);
    const parsed = parsePacket(retry as Uint8Array, 0, { shortDcidLength: 0, versions: versionTable([PRIVATE]) }).packet as RetryPacket;
    expect(parsed).toMatchObject({ type: 'retry', version: PRIVATE });
    const initial = parsePacket(first, 0, { shortDcidLength: 0, versions: versionTable([PRIVATE]) }).packet;
    expect(await verifyRetry(provider, parsed, initial.dcid)).toBe(true);
  });
});
