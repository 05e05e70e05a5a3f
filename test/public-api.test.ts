/**
 * The published surface, kept deliberate: every entry in package.json
 * `exports`, the names each one exports (values and types, compared with the
 * lists below, so that adding or removing a name is an edit here), the export
 * rule (flat everywhere, the root the union of the core entries), and the
 * declarations `tsc -p tsconfig.build.json` publishes: built with
 * `stripInternal`, they name no test-only thing outside `dist/testing`.
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { createNobleProvider } from '../src/pq/index.js';
import { withTraceHooks } from '../src/testing/index.js';
import { TlsConnection, type ClientOptions } from '../src/tls13/index.js';

const ENTRIES = ['pq', 'tls13', 'quic', 'x509', 'http3', 'transport', 'node', 'hw', 'testing'] as const;
type Entry = (typeof ENTRIES)[number];
const CORE: readonly Entry[] = ['pq', 'tls13', 'quic', 'x509'];

const load = (entry: Entry | 'root'): Promise<Record<string, unknown>> =>
  import(entry === 'root' ? '../src/index.js' : `../src/${entry}/index.js`) as Promise<Record<string, unknown>>;

/** What each entry exports: runtime names, then type-only names. */
const SURFACE: Record<Entry, { readonly values: string; readonly types: string }> = {
  'pq': {
    values: `
      AlertDescription BadRecordMacError ConfigError DecodeError IllegalParameterError KeyUnavailableError NamedGroup
      PqtlsError RecordOverflowError SLH_DSA_ALGORITHMS SignatureScheme SizeOverflowError UnsupportedAlgorithmError
      aeadKeyLength alertName createNobleProvider createWebCryptoProvider groupName hashLength isNamedGroup isSignatureScheme isSlhDsa
      parseGroupName parseSignatureSchemeName pssSchemeAllowed schemeKeyAlgorithm signatureSchemeName
      signingKeyAlgorithm signingSchemeName slhDsaSizes systemRandom
    `,
    types: `
      AeadAlgorithm AeadKey CertificateOnlyScheme CryptoProvider HashAlgorithm HashContext HashFunction
      HeaderProtectionAlgorithm HeaderProtectionKey KeyAlgorithm KeyExchange KeyPair KeyShare MlDsaAlgorithm
      NamedGroupName NobleProviderOptions PrivateKeyMaterial PrivateKeyRef RandomSource RsaPrivateOps
      RsaPssRestriction SignatureSchemeName SigningScheme SlhDsaAlgorithm TlsKeyAlgorithm VerifyOptions WebCryptoProviderOptions
    `,
  },
  'tls13': {
    values: `
      AlertDescription BadRecordMacError CipherSuite ConfigError DEFAULT_CIPHER_SUITES DEFAULT_KEY_SHARES DecodeError
      IllegalParameterError KeyUnavailableError MAX_RECORD_SIZE_LIMIT MemoryAntiReplay MemorySessionStore PqtlsError
      RecordOverflowError SizeOverflowError TicketKeyRing TlsConnection UnsupportedAlgorithmError alertName
      cipherSuiteInfo cipherSuiteName decodeSession deriveSecret encodeSession hkdfExpandLabel loadCertifiedKey
      noPadding padToBlockSize padToMaximum pemCertificates sessionUsable webPkiVerifier
    `,
    types: `
      AntiReplay CertificateVerifier CertifiedKey CipherSuiteInfo CipherSuiteName ClientOptions CommonOptions
      ConnectionLimits EarlyDataOptions HandshakeAction HandshakeInfo KeyingMaterialExporter Level PaddingPolicy PeerIdentity PskModeName
      ServerOptions Session SessionStore TicketKeyMaterial TicketOptions TicketSealer TicketState TlsEvent
      WebPkiVerifierOptions
    `,
  },
  'quic': {
    values: `
      AES_128_GCM_SHA256 AES_256_GCM_SHA384 AlertDescription BadRecordMacError CHACHA20_POLY1305_SHA256 ConfigError
      Cubic DEFAULT_HANDSHAKE_TIMEOUT_MS DEFAULT_MAX_CONCURRENT_HANDSHAKES DEFAULT_MAX_QUEUED_DATAGRAMS
      DEFAULT_QUIC_VERSIONS DEFAULT_TRANSPORT_PARAMETERS DecodeError FrameType IllegalParameterError
      InvalidPacketError KeyUnavailableError MAX_CID_LENGTH MAX_PACKET_NUMBER MAX_STREAMS_LIMIT
      MIN_STATELESS_RESET_LENGTH NewReno OneRttKeys PqtlsError QUIC_DEFAULT_LIMITS QUIC_V1 QUIC_V2 QlogJsonSeqWriter
      QuicConnection QuicEndpoint
      QuicTransportError RecordOverflowError RetryTokens STATELESS_RESET_TOKEN_LENGTH SizeOverflowError
      StreamUsageError StreamsBlockedError TAG_LENGTH TransportErrorCode TransportParameterId
      UnsupportedAlgorithmError alertName coalescePackets cubic decodeFrames decodePacketNumber decodeTransportParameters
      decryptPayload deriveDirectionalKeys derivePacketKey encodeFrame encodeFrames encodeRetry encodeStatelessReset
      encodeTransportParameters encodeVersionNegotiation headerLength initialKeys initialSecrets isFrameAllowed
      isKnownFrameType isReservedVersion isStatelessReset longPacketType newReno nextTrafficSecret openFirstInitial
      openPacket packetNonce packetNumberLength parsePacket quicCipherSuite quicSessionKey removeHeaderProtection
      restoreHeaderProtection
      sealPacket splitDatagram statelessResetLength statelessResetToken transportErrorName truncatePacketNumber
      verifyRetry versionNegotiationProbe versionTable writeHeader
    `,
    types: `
      AckRange CongestionController CongestionControllerFactory DecodeFramesOptions DirectionalKeys EcnCounts
      EndpointEvent FirstInitial Frame FrameName LongPacketType MtuCeiling MtuDiscoveryOptions OpenedOneRttPacket OpenedPacket
      OutgoingHeader Packet PacketKey PacketNumbering ParseOptions PreferredAddress ProtectedPacket
      ProtectedPacketType QlogData QlogSink QlogTraceStart QlogValue QuicCipherSuite QuicClientOptions
      QuicCommonOptions QuicEndpointEvent QuicEndpointOptions QuicEndpointServerOptions QuicEvent QuicServerOptions
      QuicVersion QuicVersionTable ReceiveWindowLimits RemoteAddress RetryFields RetryPacket SplitDatagram StreamEvent StreamLimits
      Transmit TransportParameters UnmaskedHeader UnsupportedVersionPacket ValidatedAddress VersionInformation
      VersionNegotiationPacket
    `,
  },
  'x509': {
    values: `
      AlertDescription BadRecordMacError CA_KEY_ALGORITHMS CA_ONLY_KEY_ALGORITHMS CertificateError ConfigError
      DEFAULT_CHAIN_LIMITS DEFAULT_CSR_LIMITS DecodeError IllegalParameterError KeyUnavailableError
      ML_DSA_EXPANDED_KEY_LENGTH ML_DSA_PUBLIC_KEY_LENGTH Oid PqtlsError RSA_MAX_VERIFY_BITS RecordOverflowError
      SizeOverflowError UnsupportedAlgorithmError alertName authorityKeyIdExtension basicConstraintsExtension
      certificateAlert certificateSignatureScheme certificateToPem certificationRequestToPem chainToPem
      createCertificationRequest decodePem dnsNameMatches encodePem encodePkcs8 encodeSubjectPublicKeyInfo
      exportPrivateKeyPem extKeyUsageExtension formatCertificate formatIp generateRoot importPrivateKey
      importPrivateKeyPem isSelfIssued issueCertificate issueIntermediate issueLeaf issueLeafFromRequest keyIdentifier
      keyUsageExtension nameAttribute nameConstraintsExtension parseCertificate parseCertificationRequest parseIp
      parsePemChain parsePkcs8 parsePkcs8Pem parseSubjectPublicKeyInfo publicKeyAlgorithmName randomSerialNumber
      signCertificate signatureAlgorithmName signatureVerificationCost subjectAltNameExtension subjectKeyIdExtension
      summarizeCertificate verifyCertificationRequest verifyChain
    `,
    types: `
      BasicConstraints Certificate CertificateErrorReason CertificateExtensions CertificateInput CertificateRef
      CertificateSpec CertificateSummary CertificationRequest ChainLimits CsrLimits CsrOptions DistinguishedName
      Extension ExtensionSpec IntermediateOptions IssuedCertificate IssuerCredentials KeyPurpose KeyUsageBit
      LeafFromRequestOptions LeafOptions MlDsaKeyFormat NameAttribute NameConstraints NameConstraintsSpec NameSubtree
      PemBlock Pkcs8Key PublicKeyInfo RootOptions SignatureAlgorithm SubjectAltNames VerifiedChain VerifyChainOptions
    `,
  },
  'http3': {
    values: `
      DEFAULT_MAX_FIELDS DEFAULT_MAX_FIELD_SECTION_SIZE FrameParser FrameType H3ErrorCode HQ_MAX_REQUEST HQ_REQUEST_ERROR
      HTTP2_FRAME_TYPES HUFFMAN_CODES HqConnection Http3Connection Http3Error QPACK_STATIC_TABLE SettingId StreamType
      checkRequest checkResponse checkTrailers dataFrameHeader decodeFieldSection decodeSettings encodeFieldSection
      encodeFrame encodeSettings h3ErrorName huffmanDecode huffmanEncode
    `,
    types: `
      Field FrameEvent FrameLimits HqEvent Http3Event Http3Limits QpackLimits RequestHead Settings
    `,
  },
  'node': {
    values: `
      FileSessionStore NativeQuac100 PqTlsSocket QlogFileSink QuicSession connect createNodeCryptoProvider createQuicServer
      createServer createWebSocketRelay fileQuacStorage nativePqSupport nativeQuacLibrary qlogDirFromEnv quicConnect udpPathMtuCeiling
    `,
    types: `
      ConnectOptions NativePqSupport NativeQuacOptions NodeCryptoProviderOptions PqTlsServer PqTlsServerOptions QuicConnectOptions
      QuicListenOptions QuicServerSocket WebSocketRelayOptions
    `,
  },
  'hw': {
    values: `
      EMULATED_RELATIVE_COST EmulatedQuac100 EmulatedQuacLibrary MAX_ROTATION_GRACE_MS QUAC_ALGORITHMS QUAC_INIT_FIPS_MODE QuacAlgorithm
      QuacError QuacHealthStatus QuacResult VirtualClock createQuacPool createQuacProvider emulatedQuacLibrary
      prometheusText quacAlgorithm quacAlgorithmForGroup quacAlgorithmForSignature quacKem quacSign quacSucceeded
      realClock rotateStoredKey
    `,
    types: `
      BackoffOptions BatchOptions ClearableFault DeviceSnapshot DeviceState EmulatedFault EmulatedQuacOptions EmulatedQuacStorage
      HistogramSnapshot KeyPoolOptions KeyRotationOptions LabelledCount MetricsOptions QuacAlgorithmId QuacAlgorithmName
      QuacAlgorithmParameters QuacBatchItem QuacBatchItemResult QuacBatchOptions QuacBatchResult QuacClock QuacDevice
      QuacHealth QuacKemParameters QuacKeyAttributes QuacKeyHandle QuacKeyRef QuacLibrary QuacMetricsSnapshot QuacPool
      QuacPoolOptions QuacProvider QuacProviderOptions QuacResultCode QuacResultName QuacSignOptions
      QuacSignParameters QuacStoredKey StoredKeyOptions StoredKeyRotation
    `,
  },
  'transport': {
    values: `
      WebSocketTransportError acceptWebSocket connectWebSocket tlsOverWebSocket
    `,
    types: `
      TlsWebSocket WebSocketEventLike WebSocketLike WebSocketTlsOptions
    `,
  },
  'testing': {
    values: `
      scriptedRandom seededRandom withTraceHooks
    `,
    types: `
      ClientHello HandshakeExtension TraceHooks
    `,
  },
};

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean).sort();
const root = new URL('../', import.meta.url).pathname;

let program: ts.Program;
beforeAll(() => {
  const cfg = ts.getParsedCommandLineOfConfigFile(`${root}tsconfig.build.json`, {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); },
  });
  if (!cfg) throw new Error('tsconfig.build.json did not parse');
  // The build's own options; only type checking is skipped (tsc -p tsconfig.json --noEmit does that).
  program = ts.createProgram(cfg.fileNames, { ...cfg.options, noCheck: true });
}, 120_000);

/** Every name `src/<entry>/index.ts` exports, types included, as the compiler sees it. */
function exportedNames(entry: Entry | 'root'): { values: string[]; types: string[] } {
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(`${root}src/${entry === 'root' ? '' : `${entry}/`}index.ts`);
  const module = file && checker.getSymbolAtLocation(file);
  if (!module) throw new Error(`no module for ${entry}`);
  const values: string[] = [];
  const types: string[] = [];
  for (const s of checker.getExportsOfModule(module)) {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    (target.flags & ts.SymbolFlags.Value ? values : types).push(s.name);
  }
  return { values: values.sort(), types: types.sort() };
}

describe('package.json exports', () => {
  it('names the root, the eight entries and package.json, each built from its src index', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { exports: Record<string, unknown> };
    const expected: Record<string, unknown> = { '.': { types: './dist/index.d.ts', import: './dist/index.js' } };
    for (const e of ENTRIES) expected[`./${e}`] = { types: `./dist/${e}/index.d.ts`, import: `./dist/${e}/index.js` };
    // Only Node (and Deno and Bun, which match "node") get the adapter; browsers and Workers an error module.
    expected['./node'] = { types: './dist/node/index.d.ts', node: './dist/node/index.js', default: './dist/node/unavailable.js' };
    expected['./package.json'] = './package.json';
    expect(pkg.exports).toEqual(expected);
  });
});

describe.each(ENTRIES)('pqtls/%s', (entry) => {
  it('exports exactly its committed runtime names', async () => {
    expect(Object.keys(await load(entry)).sort()).toEqual(words(SURFACE[entry].values));
  });

  it('exports exactly its committed type names', () => {
    expect(exportedNames(entry)).toEqual({ values: words(SURFACE[entry].values), types: words(SURFACE[entry].types) });
  });

  it('exports flat: no namespace objects', async () => {
    const m = await load(entry);
    expect(Object.keys(m).filter((k) => Object.prototype.toString.call(m[k]) === '[object Module]')).toEqual([]);
  });
});

describe('the export rule', () => {
  it('every core entry exports the shared error classes', async () => {
    for (const e of CORE) expect(Object.keys(await load(e))).toEqual(expect.arrayContaining(Object.keys(errors)));
  });

  it('the root entry is the union of the core entries, values and types, flat', async () => {
    const union = (pick: (e: Entry) => string[]): string[] => [...new Set(CORE.flatMap(pick))].sort();
    expect(Object.keys(await load('root')).sort()).toEqual(union((e) => words(SURFACE[e].values)));
    expect(exportedNames('root')).toEqual({ values: union((e) => words(SURFACE[e].values)), types: union((e) => words(SURFACE[e].types)) });
  });

  it('test support is reachable only from pqtls/testing', async () => {
    const testOnly = ['seededRandom', 'scriptedRandom', 'withTraceHooks', 'traceHooks', 'TraceHooks', 'registerQuicVersion'];
    for (const e of [...ENTRIES.filter((x) => x !== 'testing'), 'root'] as const) {
      const { values, types } = exportedNames(e);
      expect([...values, ...types].filter((n) => testOnly.includes(n))).toEqual([]);
    }
  });
});

describe('published declarations (tsconfig.build.json, stripInternal)', () => {
  it('name no trace hook, seeded or scripted random source outside dist/testing', () => {
    const emitted = new Map<string, string>();
    const result = program.emit(undefined, (name, text) => emitted.set(name, text), undefined, true);
    expect(result.emitSkipped).toBe(false);
    const dts = [...emitted].filter(([name]) => name.endsWith('.d.ts')).map(([name, text]) => [name.slice(name.indexOf('/dist/') + 1), text] as const);
    expect(dts.map(([name]) => name)).toEqual(expect.arrayContaining(['dist/index.d.ts', 'dist/testing/index.d.ts', 'dist/tls13/config.d.ts']));
    // Prose may point at pqtls/testing; declarations may not.
    const code = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const leaks = dts
      .filter(([name]) => !name.startsWith('dist/testing/'))
      .flatMap(([name, text]) => [...code(text).matchAll(/\b(traceHooks|traceHooksOf|TRACE_HOOKS|seededRandom|scriptedRandom)\b/g)].map((m) => `${name}: ${m[0]}`));
    expect(leaks).toEqual([]);
    expect(code(dts.find(([name]) => name === 'dist/testing/index.d.ts')?.[1] ?? '')).toMatch(/withTraceHooks/);
  }, 120_000);
});

describe('trace hooks are not an option', () => {
  async function firstHello(options: ClientOptions): Promise<void> {
    await TlsConnection.client(options);
  }
  const base = {
    provider: createNobleProvider(), now: () => 0, serverName: 'example.test',
    verifier: { verify: () => Promise.reject(new Error('not reached')) },
  };

  it('a `traceHooks` key on ordinary options (say, parsed from a config file) is ignored', async () => {
    let rewritten = false;
    const hooks = { clientHello: <T>(ch: T): T => ((rewritten = true), ch) };
    await firstHello({ ...base, traceHooks: hooks } as ClientOptions);
    expect(rewritten).toBe(false);
    await firstHello(withTraceHooks(base, hooks));
    expect(rewritten).toBe(true);
  });
});
