/**
 * A failed cell's qlogs, cut to a few lines for its failure message: CI keeps
 * only the test output, not the work directory, so what went wrong on the wire
 * has to travel in the message. Reads the JSON-SEQ files (RFC 7464) pqtls and
 * OpenSSL write (`<odcid>_<client|server>.sqlog`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files shown per directory: those of connections that did not close are shown first. */
const MAX_FILES = 3;
/** Events quoted from the end of each file. */
const TAIL_EVENTS = 4;
/** Characters of one quoted event. */
const EVENT_CHARS = 240;

interface Trace {
  readonly file: string;
  readonly counts: Map<string, number>;
  readonly tail: readonly string[];
  readonly closed: boolean;
}

function readTrace(dir: string, file: string): Trace {
  const counts = new Map<string, number>();
  const events: string[] = [];
  let closed = false;
  for (const record of readFileSync(join(dir, file), 'utf8').split(/[\u001e\n]/)) {
    const text = record.trim();
    if (!text) continue;
    const name = /"name":"([^"]+)"/.exec(text)?.[1];
    if (!name) continue;
    const short = name.replace(/^[a-z]+:/, '');
    counts.set(short, (counts.get(short) ?? 0) + 1);
    if (short === 'connection_closed') closed = true;
    if (short !== 'metrics_updated') events.push(text.length > EVENT_CHARS ? `${text.slice(0, EVENT_CHARS)}…` : text);
  }
  return { file, counts, tail: events.slice(-TAIL_EVENTS), closed };
}

/** A few lines per qlog directory: packets sent, received and lost per connection, and each trace's last events. */
export function qlogSummary(dirs: Readonly<Record<string, string>>): string {
  const out: string[] = [];
  for (const [side, dir] of Object.entries(dirs)) {
    if (!existsSync(dir)) continue;
    const files = readdirSync(dir).filter((f) => f.endsWith('.sqlog') || f.endsWith('.qlog'));
    if (!files.length) continue;
    const traces = files.map((f) => readTrace(dir, f)).sort((a, b) => Number(a.closed) - Number(b.closed));
    const open = traces.filter((t) => !t.closed).length;
    out.push(`${side} qlog: ${files.length} connection(s), ${open} without connection_closed`);
    for (const t of traces.slice(0, MAX_FILES)) {
      const n = (k: string): number => t.counts.get(k) ?? 0;
      out.push(`  ${t.file}: sent ${n('packet_sent')}, received ${n('packet_received')}, lost ${n('packet_lost')}; last events:`);
      for (const e of t.tail) out.push(`    ${e}`);
    }
  }
  return out.join('\n');
}
