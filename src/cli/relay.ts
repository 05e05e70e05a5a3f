/**
 * `pqtls relay --ws PORT --to HOST:PORT`: a WebSocket-to-TCP relay, so that a browser page running
 * TLS 1.3 over a WebSocket (`pqtls/transport`) reaches an ordinary TLS server. The relay forwards
 * records and sees no plaintext.
 */
import { parseArgs } from 'node:util';
import { createWebSocketRelay } from '../node/websocket-relay.js';
import { CliError, UsageError, type CliCommand, type CliIo } from './command.js';

const HELP = `usage: pqtls relay --ws PORT --to HOST:PORT [options]

Bridges each WebSocket connection to a new TCP connection to HOST:PORT: binary messages one
way, TCP bytes the other. For TLS over WebSocket from a browser (pqtls/transport).

  --ws PORT              WebSocket port to listen on (0 picks one; the port is printed)
  --host ADDR            address to listen on (default 127.0.0.1)
  --to HOST:PORT         the TCP server to relay to, e.g. localhost:4433 or [::1]:4433
  --origin LIST          allowed Origin values (default: any); name your page's origin when deployed
  --max-connections N    WebSocket connections bridged at once (default 256)
`;

function target(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`--to must be HOST:PORT, not "${text}"`);
  return { host: (m[1] ?? m[2]) as string, port };
}

async function runRelay(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ws: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, to: { type: 'string' }, origin: { type: 'string' },
      'max-connections': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (values.ws === undefined || values.to === undefined) throw new UsageError('pqtls relay: --ws and --to are required');
  if (!/^\d{1,5}$/.test(values.ws) || Number(values.ws) > 65535) throw new UsageError(`--ws must be a port, not "${values.ws}"`);
  const max = values['max-connections'];
  if (max !== undefined && (!/^\d+$/.test(max) || Number(max) < 1)) throw new UsageError(`--max-connections must be a positive integer, not "${max}"`);
  const to = target(values.to);
  const server = createWebSocketRelay({
    ...to,
    ...(max !== undefined && { maxConnections: Number(max) }),
    ...(values.origin !== undefined && { allowedOrigins: values.origin.split(',').map((s) => s.trim()).filter(Boolean) }),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(values.ws), values.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: unknown) => {
    throw new CliError(`cannot listen on ${values.host}:${values.ws}: ${e instanceof Error ? e.message : String(e)}`);
  });
  const addr = server.address();
  io.out(`relaying ws://${values.host}:${typeof addr === 'object' && addr ? addr.port : values.ws}/ to ${values.to}\n`);
  await new Promise<void>((resolve) => server.on('close', resolve));
  return 0;
}

export const relayCommand: CliCommand = {
  summary: 'relay WebSocket connections to a TCP server (TLS over WebSocket from a browser)',
  async run(argv, io) {
    try {
      return await runRelay(argv, io);
    } catch (e) {
      if (!(e instanceof UsageError) && !(e instanceof TypeError && /parseArgs|option/i.test(e.message))) throw e;
      io.err(`${e.message}\n\n${HELP}`);
      return 2;
    }
  },
};
