// A TLS 1.3 peer on Node 24's node:tls (OpenSSL 3.5), driven by the interop
// tests: `node24 node24-tls-peer.mjs '<json config>'`. It prints one JSON
// object per line on stdout ({event: 'listening' | 'secure' | 'end' | 'error' |
// 'tlsClientError', ...}); with `trace`, OpenSSL's own record trace goes to
// stderr (that is where a received or sent KeyUpdate shows).
//
// Server: serves one connection, echoing each line as `echo: LINE`; a line
// `bye` makes it close. Client: sends `send` (a string, or a list whose first
// element goes at once and each next one when data arrives), prints everything
// received once the server closes, and exits. TLS 1.3 suites are chosen through
// `ciphers`, as Node takes them.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const file = (p) => (p ? readFileSync(p) : undefined);

function report(s) {
  const r = {
    event: 'secure',
    protocol: s.getProtocol(),
    cipher: s.getCipher()?.standardName,
    ephemeral: s.getEphemeralKeyInfo(),
    alpn: s.alpnProtocol,
    authorized: s.authorized,
    authorizationError: s.authorizationError ?? null,
    peerSubject: s.getPeerX509Certificate()?.subject ?? null,
  };
  if (cfg.exporter) {
    const { length, label, context } = cfg.exporter;
    const args = context === undefined ? [length, label] : [length, label, Buffer.from(context, 'hex')];
    r.exporter = s.exportKeyingMaterial(...args).toString('hex');
  }
  out(r);
}

const common = {
  minVersion: 'TLSv1.3',
  ...(cfg.groups && { ecdhCurve: cfg.groups }),
  ...(cfg.ciphers && { ciphers: cfg.ciphers }),
  ...(cfg.alpn && { ALPNProtocols: cfg.alpn }),
  ...(cfg.cert && { cert: file(cfg.cert), key: file(cfg.key) }),
  ...(cfg.ca && { ca: file(cfg.ca) }),
  enableTrace: Boolean(cfg.trace),
};

if (cfg.role === 'server') {
  const server = tls.createServer({ ...common, requestCert: Boolean(cfg.requestCert), rejectUnauthorized: Boolean(cfg.requestCert) }, (s) => {
    report(s);
    let pending = '';
    s.on('data', (d) => {
      pending += d.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'bye') {
          s.end();
          return;
        }
        s.write(`echo: ${line}\n`);
      }
    });
    s.on('end', () => s.end());
    s.on('error', (e) => out({ event: 'error', message: e.message, code: e.code ?? null }));
    s.on('close', () => server.close());
  });
  server.on('tlsClientError', (e) => {
    out({ event: 'tlsClientError', message: e.message, code: e.code ?? null });
    server.close();
  });
  server.listen(cfg.port, '127.0.0.1', () => out({ event: 'listening' }));
} else {
  let text = '';
  const steps = Array.isArray(cfg.send) ? [...cfg.send] : [cfg.send ?? ''];
  const s = tls.connect({ ...common, host: '127.0.0.1', port: cfg.port, servername: 'localhost' }, () => {
    report(s);
    s.write(steps.shift());
  });
  s.on('data', (d) => {
    text += d.toString('utf8');
    if (steps.length) s.write(steps.shift());
  });
  s.on('end', () => {
    out({ event: 'end', text });
    s.end();
  });
  s.on('error', (e) => {
    out({ event: 'error', message: e.message, code: e.code ?? null });
    process.exitCode = 1;
  });
}
