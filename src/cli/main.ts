/**
 * `pqtls` command-line entry: a dispatcher over subcommands. Adding one is one
 * line in {@link commands}. The bin script (`bin/pqtls.js`) calls {@link main}
 * with `process.argv.slice(2)` and exits with the code it returns.
 */
import { certCommand } from './cert.js';
import { clientCommand, serverCommand } from './tls.js';
import { relayCommand } from './relay.js';
import { errorLine, type CliCommand, type CliIo } from './command.js';

export type { CliCommand, CliIo } from './command.js';
export { CliError } from './command.js';

/** Subcommands by name. */
export const commands: Readonly<Record<string, CliCommand>> = {
  cert: certCommand,
  server: serverCommand,
  client: clientCommand,
  relay: relayCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    'usage: pqtls <command> [options]',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `pqtls <command> --help` for the options of each.',
    '',
  ].join('\n');
}

const processIo: CliIo = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  now: () => new Date(),
};

/**
 * Runs the CLI with `argv` (without node and script); resolves to the exit
 * code: 0 success, 2 usage error (with help), 1 anything else. Nothing a user
 * can cause — a missing or malformed file, a key that does not fit its
 * certificate, a port in use — escapes as an exception with a stack trace:
 * whatever a command throws is reported here as one line, `pqtls: <message>`.
 */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    io.err(`pqtls: ${errorLine(e)}\n`);
    return 1;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    io.err(`pqtls: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return command.run(rest, io);
}
