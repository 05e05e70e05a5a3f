/** Running `pqtls` commands in-process: a captured {@link CliIo}, and the port a server says it listens on. */
import type { CliIo } from '../../src/cli/main.js';

export type CapturedIo = CliIo & { text: () => string; errors: () => string };

export function captureIo(): CapturedIo {
  let out = '';
  let err = '';
  return { out: (s) => void (out += s), err: (s) => void (err += s), now: () => new Date(), text: () => out, errors: () => err };
}

/** Waits (up to 10 s) for `listening on HOST:PORT`; a server that reports an error first has failed to start. */
export async function listeningPort(o: CapturedIo): Promise<number> {
  for (let i = 0; i < 400; i++) {
    const m = /listening on [^:]+:(\d+)/.exec(o.text());
    if (m) return Number(m[1]);
    if (o.errors()) throw new Error(`server did not start: ${o.errors()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`server did not start: ${o.errors()}`);
}
