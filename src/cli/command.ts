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

/**
 * A start-up failure the user can fix (an unreadable file, a key that does not
 * fit, a port in use): printed as one line, `pqtls: <message>`, exit code 1.
 */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** The one-line text of any error, for `pqtls: <message>`: no stack, newlines folded. */
export function errorLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/\s*\n\s*/g, ' ').trim() || (e instanceof Error ? e.name : 'unknown error');
}
