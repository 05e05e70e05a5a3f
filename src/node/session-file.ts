import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { decodeSession, encodeSession, sessionUsable, type Session, type SessionStore } from '../tls13/session.js';

/**
 * Keeps one session in a file (base64), as `openssl s_client -sess_out/-sess_in`
 * does: each new ticket replaces the last. The file holds a resumption secret,
 * so it is written readable by its owner only.
 */
export class FileSessionStore implements SessionStore {
  constructor(private readonly path: string) {}

  take(_key: string, now: number): Session | undefined {
    if (!existsSync(this.path)) return undefined;
    let s: Session;
    try {
      s = decodeSession(new Uint8Array(Buffer.from(readFileSync(this.path, 'utf8').trim(), 'base64')));
    } catch {
      // A truncated or foreign file is no session: the handshake goes on as a full one.
      return undefined;
    }
    return sessionUsable(s, now) ? s : undefined;
  }

  put(_key: string, session: Session): void {
    writeFileSync(this.path, Buffer.from(encodeSession(session)).toString('base64') + '\n', { mode: 0o600 });
  }
}
