/**
 * `pqtls` command-line entry: a dispatcher over subcommands. Adding one is one
 * line in {@link commands}. The bin script (`bin/pqtls.js`) calls {@link main}
 * with `process.argv.slice(2)` and exits with the code it returns.
 */
import { certCommand } from './cert.js';
import { clientCommand, serverCommand } from './tls.js';
import type { CliCommand, CliIo } from './command.js';

export type { CliCommand, CliIo } from './command.js';

/** Subcommands by name. */
export const commands: Readonly<Record<string, CliCommand>> = {
  cert: certCommand,
  server: serverCommand,
  client: clientCommand,
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

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
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
