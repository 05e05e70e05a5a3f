import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../bytes.js';
import { QlogJsonSeqWriter, type QlogData, type QlogSink, type QlogTraceStart } from '../quic/qlog.js';

/** Buffered records past this size are written at once rather than at the end of the event-loop turn. */
const FLUSH_BYTES = 64 * 1024;

/**
 * Sinks holding records not yet written. A process that ends with
 * `process.exit()` (as a CLI does once its transfer is done) skips the
 * pending setImmediate: these are written on `exit`, synchronously.
 */
const unflushed = new Set<QlogFileSink>();
let exitHook = false;
function flushOnExit(sink: QlogFileSink): void {
  unflushed.add(sink);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const s of [...unflushed]) s.flush();
  });
}

/**
 * A {@link QlogSink} writing one `.sqlog` file (JSON-SEQ) into `dir`, named
 * `<odcid hex>_<client|server>.sqlog` as OpenSSL's QLOGDIR files are; the name
 * is known when the connection starts the trace. Records are collected and
 * appended once per event-loop turn (a packet trace has several records per
 * datagram); a file that cannot be written stops the trace, never the connection.
 */
export class QlogFileSink implements QlogSink {
  private path: string | undefined;
  private buffered: string[] = [];
  private bytes = 0;
  private scheduled = false;
  private failed = false;
  private readonly writer = new QlogJsonSeqWriter((record) => this.push(record));

  constructor(private readonly dir: string) {}

  /** The file's path, once the connection has started the trace. */
  get file(): string | undefined {
    return this.path;
  }

  start(trace: QlogTraceStart): void {
    if (this.path) return;
    this.path = join(this.dir, `${toHex(trace.odcid)}_${trace.vantagePoint}.sqlog`);
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch {
      this.failed = true;
    }
    this.writer.start(trace);
  }

  event(time: number, name: string, data: QlogData): void {
    this.writer.event(time, name, data);
  }

  /** Writes what is buffered now (the sink also does so by itself each event-loop turn). */
  flush(): void {
    this.scheduled = false;
    unflushed.delete(this);
    if (!this.buffered.length) return;
    const text = this.buffered.join('');
    this.buffered = [];
    this.bytes = 0;
    if (this.failed || !this.path) return;
    try {
      appendFileSync(this.path, text);
    } catch {
      this.failed = true;
    }
  }

  private push(record: string): void {
    if (this.failed) return;
    this.buffered.push(record);
    this.bytes += record.length;
    if (this.bytes >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      flushOnExit(this);
      setImmediate(() => this.flush());
    }
  }
}

/**
 * `options` with a fresh {@link QlogFileSink} for `qlogDir`, when one is named
 * and no `qlog` sink is given: call it once per connection.
 */
export function withQlogDir<T extends { readonly qlog?: QlogSink; readonly qlogDir?: string }>(options: T): T & { readonly qlog?: QlogSink } {
  return options.qlogDir && !options.qlog ? { ...options, qlog: new QlogFileSink(options.qlogDir) } : options;
}

/** The qlog directory from the environment, as OpenSSL's QLOGDIR (for the CLI: `--qlog DIR` wins over it). */
export function qlogDirFromEnv(env: { readonly [k: string]: string | undefined } = process.env): string | undefined {
  return env.QLOGDIR || undefined;
}
