// A TLS 1.3 peer on Node 24's node:tls (OpenSSL 3.5) for the resumption
// interop tests: `node24 node24-resumption-peer.mjs '<json config>'`. It prints
// one JSON object per line on stdout ({event: 'listening' | 'secure' |
// 'session' | 'end' | 'error' | 'tlsClientError', ...}); every 'secure' carries
// the connection's index and `isSessionReused()`.
//
// Server: serves `connections` connections (default 2), echoing each line as
// `echo: LINE`; a line `bye` closes that connection. Client: connects once to
// each port of `ports` in turn, sending `send` each time; every connection
// after the first offers the newest session (the 'session' event) of the one
// before it, so the ticket of a server can be taken to another. It waits for
// the server to close and for a ticket before moving on, then exits.
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const common = {
  minVersion: 'TLSv1.3',
  ...(cfg.groups && { ecdhCurve: cfg.groups }),
  ...(cfg.cert && { cert: readFileSync(cfg.cert), key: readFileSync(cfg.key) }),
  ...(cfg.ca && { ca: readFileSync(cfg.ca) }),
};

function report(s, index) {
  out({
    event: 'secure',
    index,
    reused: s.isSessionReused(),
    protocol: s.getProtocol(),
    cipher: s.getCipher()?.standardName,
    ephemeral: s.getEphemeralKeyInfo(),
    authorized: s.authorized,
  });
}

if (cfg.role === 'server') {
  const total = cfg.connections ?? 2;
  let accepted = 0;
  let closedCount = 0;
  const server = tls.createServer(common, (s) => {
    report(s, accepted++);
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
    s.on('close', () => {
      if (++closedCount === total) server.close();
    });
  });
  server.on('tlsClientError', (e) => {
    out({ event: 'tlsClientError', message: e.message, code: e.code ?? null });
    server.close();
  });
  server.listen(cfg.port, '127.0.0.1', () => out({ event: 'listening' }));
} else {
  const connectOnce = (port, index, session) =>
    new Promise((resolve, reject) => {
      let text = '';
      let latest;
      let ended = false;
      const s = tls.connect({ ...common, host: '127.0.0.1', port, servername: 'localhost', ...(session && { session }) }, () => {
        report(s, index);
        s.write(cfg.send ?? 'hello\nbye\n');
      });
      const maybeDone = () => {
        if (ended && latest) resolve(latest);
      };
      s.on('session', (sess) => {
        latest = sess;
        out({ event: 'session', index, bytes: sess.length });
        maybeDone();
      });
      s.on('data', (d) => {
        text += d.toString('utf8');
      });
      s.on('end', () => {
        out({ event: 'end', index, text });
        s.end();
        ended = true;
        maybeDone();
      });
      s.on('error', (e) => reject(e));
    });
  try {
    let session;
    for (const [index, port] of cfg.ports.entries()) session = await connectOnce(port, index, session);
  } catch (e) {
    out({ event: 'error', message: e.message, code: e.code ?? null });
    process.exitCode = 1;
  }
}
