import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { decodeSession, encodeSession, sessionUsable, type Session, type SessionStore } from '../tls13/session.js';

/**
 * Keeps one session in a file (base64), as `openssl s_client -sess_out/-sess_in`
 * does: each new ticket replaces the last. The file holds a resumption secret,
 * so it is written readable by its owner only.
 *
 * A server decides how many tickets it sends, so `put` only remembers the
 * newest session and writes it in the background: however many tickets arrive
 * while a write is in progress, one more write follows with the newest. Call
 * {@link flush} before exiting to be sure the file is up to date.
 */
export class FileSessionStore implements SessionStore {
  private newest: Session | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  private failure: unknown;

  constructor(private readonly path: string) {}

  take(_key: string, now: number): Session | undefined {
    let s = this.newest;
    if (!s) {
      if (!existsSync(this.path)) return undefined;
      try {
        s = decodeSession(new Uint8Array(Buffer.from(readFileSync(this.path, 'utf8').trim(), 'base64')));
      } catch {
        // A truncated or foreign file is no session: the handshake goes on as a full one.
        return undefined;
      }
    }
    return sessionUsable(s, now) ? s : undefined;
  }

  put(_key: string, session: Session): void {
    this.newest = session;
    this.dirty = true;
    if (!this.writing) this.startWriting();
  }

  /** Resolves once the newest session is on disk; rejects if the last write failed. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (this.failure !== undefined) {
      const e = this.failure;
      this.failure = undefined;
      throw e;
    }
  }

  private startWriting(): void {
    this.writing = this.writeNewest().finally(() => {
      this.writing = undefined;
      // A put after the loop's last check but before this ran is written now.
      if (this.dirty) this.startWriting();
    });
  }

  private async writeNewest(): Promise<void> {
    try {
      while (this.dirty && this.newest) {
        this.dirty = false;
        const text = Buffer.from(encodeSession(this.newest)).toString('base64') + '\n';
        // Written aside and renamed, so a reader (or an exit mid-write) never sees half a session.
        const tmp = `${this.path}.${process.pid}.tmp`;
        await writeFile(tmp, text, { mode: 0o600 });
        await rename(tmp, this.path);
        this.failure = undefined;
      }
    } catch (e) {
      this.failure = e;
    }
  }
}
