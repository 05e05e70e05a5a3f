/** Where a command writes, and its clock (injected so tests can pin time). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  now(): Date;
}

/** One `pqtls` subcommand. */
export interface CliCommand {
  /** One line for the top-level help. */
  readonly summary: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/** A usage error: printed with the command's help, exit code 2. */
export class UsageError extends Error {}
