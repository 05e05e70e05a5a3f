import type { TlsConnection } from '../src/tls13/connection.js';
import type { ProviderClock } from './timed-provider.js';

/** One side of an in-memory client/server pair: wall time inside its calls, and its provider's clock. */
export interface Side {
  ms: number;
  readonly clock: ProviderClock;
}

/** Runs `f`, adding its wall time to `side`. */
export async function timed<T>(side: Side, f: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    side.ms += performance.now() - t0;
  }
}

export const f1 = (x: number): string => x.toFixed(1);
export const f2 = (x: number): string => x.toFixed(2);
export const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Moves bytes between two in-memory connections until both are quiet, timing each side's calls. */
export async function timedPump(client: TlsConnection, clientSide: Side, server: TlsConnection, serverSide: Side): Promise<void> {
  const legs = [[client, clientSide, server, serverSide], [server, serverSide, client, clientSide]] as const;
  for (let i = 0; i < 20; i++) {
    let moved = false;
    for (const [from, fromSide, to, toSide] of legs) {
      if (!from.wantsWrite) continue;
      const bytes = await timed(fromSide, () => from.takeOutput());
      await timed(toSide, () => to.receive(bytes));
      moved = true;
    }
    if (!moved) return;
  }
}
