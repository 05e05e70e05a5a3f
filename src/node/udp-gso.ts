/**
 * UDP generic segmentation offload (Linux `UDP_SEGMENT`, since 4.18) for the
 * QUIC adapter's sending side, called through koffi as the node provider
 * calls OpenSSL.
 *
 * Why: Node's `dgram` sends one datagram per `send`, and each costs a trip
 * through dgram's JavaScript (validation, a lookup callback, a `SendWrap`),
 * an address parse and a `sendmsg` through the whole UDP/IP stack; over
 * loopback the receiver's wake-up is paid by the sender too. A bulk sender in
 * 1452-byte datagrams spent about a third of its CPU there. With
 * `UDP_SEGMENT` one `sendmsg` hands the kernel up to 64 KB of equal-sized
 * datagrams (the last may be shorter), which it splits as late as it can —
 * what quinn, quiche and ngtcp2 do on Linux.
 *
 * Scope: Linux on a 64-bit target (the `msghdr` layout koffi is given), a
 * bound `udp4` socket, IPv4 literal destinations. Anything else, and any
 * batch the kernel refuses, goes through `dgram` as before: the caller falls
 * back whenever {@link GsoSender.send} returns false, so GSO can only change
 * how many system calls carry the same datagrams, never which. A kernel that
 * does not know `UDP_SEGMENT` (before 4.18; `getsockopt` asks) gets no
 * sender; a device that cannot checksum GSO (EIO) turns it off for the
 * socket after a few refusals.
 *
 * `PQTLS_UDP_GSO=0` turns it off.
 */
import type { Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { loadKoffi } from './crypto/openssl-ffi.js';

/** The kernel's cap on segments per send (UDP_MAX_SEGMENTS, include/linux/udp.h). */
export const GSO_MAX_SEGMENTS = 64;
/** The largest IPv4 UDP payload, which bounds a whole GSO send as it bounds one datagram. */
export const GSO_MAX_BYTES = 65_535 - 20 - 8;

const SOL_UDP = 17;
const UDP_SEGMENT = 103;
const AF_INET = 2;
/** CMSG_LEN(sizeof(uint16_t)) and CMSG_SPACE(sizeof(uint16_t)) on LP64 Linux. */
const CMSG_LEN = 18;
const CMSG_SPACE = 24;
/** Errors of a full socket buffer: the batch goes through dgram (which queues it), GSO stays on. */
const TRANSIENT = new Set([11 /* EAGAIN */, 105 /* ENOBUFS */]);
/** Sends refused one after another for other reasons (a device that cannot checksum GSO, EIO) after which the socket stops trying. */
const MAX_FAILURES = 3;

type Fn = (...args: readonly unknown[]) => unknown;

interface Binding {
  readonly sendmsg: Fn;
  readonly getsockname: Fn;
  readonly getsockopt: Fn;
  readonly errno: () => number;
}

let binding: Binding | null | undefined;

function bind(): Binding | null {
  if (binding !== undefined) return binding;
  binding = null;
  if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) return null;
  try {
    const koffi = loadKoffi();
    const libc = koffi.load(null);
    // Unnamed types: koffi's names are process-wide, and a second copy of this module (a test runner's) must not clash.
    const iovec = koffi.struct({ iov_base: 'void *', iov_len: 'size_t' });
    const msghdr = koffi.struct({
      msg_name: 'void *', msg_namelen: 'uint32_t', msg_iov: koffi.pointer(iovec), msg_iovlen: 'size_t',
      msg_control: 'void *', msg_controllen: 'size_t', msg_flags: 'int',
    });
    binding = {
      sendmsg: libc.func('sendmsg', 'long', ['int', koffi.pointer(msghdr), 'int']) as Fn,
      getsockname: libc.func('int getsockname(int fd, _Out_ uint8_t *addr, _Inout_ uint32_t *len)') as Fn,
      getsockopt: libc.func('int getsockopt(int fd, int level, int name, _Out_ int32_t *value, _Inout_ uint32_t *len)') as Fn,
      errno: () => koffi.errno(),
    };
  } catch {
    // No koffi, or no libc symbols: dgram sends everything.
  }
  return binding;
}

/** Where Node keeps a dgram socket's handle (its internal state, which has no public accessor); `handle` is null once closed. */
interface SocketState {
  readonly handle?: { readonly fd?: unknown } | null;
}

function socketState(sock: Socket): SocketState | undefined {
  const holder = sock as unknown as Record<symbol, unknown>;
  for (const s of Object.getOwnPropertySymbols(sock)) {
    const v = holder[s];
    if (s.description === 'state symbol' && typeof v === 'object' && v !== null) return v as SocketState;
  }
  return undefined;
}

/** The file descriptor under a socket's handle while it is open. */
function openFd(state: SocketState): number | undefined {
  const fd = state.handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** The port a socket's fd is bound to (getsockname), to check that {@link socketFd} found this socket's descriptor. */
function boundPort(b: Binding, fd: number): number | undefined {
  const addr = new Uint8Array(128);
  const len = [addr.length];
  if (b.getsockname(fd, addr, len) !== 0 || (addr[0]! | (addr[1]! << 8)) !== AF_INET) return undefined;
  return (addr[2]! << 8) | addr[3]!;
}

/**
 * How many of `out[from…]` one GSO send may carry: datagrams to the same
 * path, at least two of them as long as the first, then any more of that
 * length and at most one shorter to end the run, within the kernel's bounds
 * on segments and bytes. A datagram unlike the next (a DPLPMTUD probe, larger
 * than the data around it) is a run of one, which goes alone: a probe's size
 * is its own, and a segment size over the interface's MTU would fail the
 * whole send (EINVAL) where the probe alone is just lost.
 */
export function gsoRun(out: readonly { readonly data: Uint8Array; readonly remote: string }[], from: number): number {
  const first = out[from] as { data: Uint8Array; remote: string };
  const size = first.data.length;
  const second = out[from + 1];
  if (!second || second.remote !== first.remote || second.data.length !== size) return 1;
  let total = size;
  let n = 1;
  while (from + n < out.length && n < GSO_MAX_SEGMENTS) {
    const t = out[from + n] as { data: Uint8Array; remote: string };
    if (t.remote !== first.remote || t.data.length > size || total + t.data.length > GSO_MAX_BYTES) break;
    total += t.data.length;
    n++;
    if (t.data.length < size) break;
  }
  return n;
}

/** Sends runs of equal-sized datagrams in one system call each. */
export interface GsoSender {
  /**
   * Sends `datagrams[from, from + count)` to `address:port` (an IPv4
   * literal) as one GSO send: every one `datagrams[from].length` bytes long
   * but the last, which may be shorter; at most {@link GSO_MAX_SEGMENTS} of
   * them and {@link GSO_MAX_BYTES} in all. True once the kernel took all of
   * them; false if it took none, and the caller sends them some other way.
   */
  send(datagrams: readonly { readonly data: Uint8Array }[], from: number, count: number, address: string, port: number): boolean;
}

/** Datagrams sent through GSO and the system calls that carried them, in this process (for tests and benches). */
export const gsoCounters = { sends: 0, datagrams: 0 };

/** What a socket's sender is: undefined where GSO is unavailable (cached per socket: a refused socket is not asked again). */
const senders = new WeakMap<Socket, GsoSender | null>();

/**
 * The GSO sender of a bound `udp4` socket, or undefined where it cannot have
 * one (see the module's comment). Made on first use: a server's socket is
 * bound after the adapter is given it.
 */
export function gsoSender(sock: Socket): GsoSender | undefined {
  const known = senders.get(sock);
  if (known !== undefined) return known ?? undefined;
  const b = process.env['PQTLS_UDP_GSO'] === '0' ? null : bind();
  let address: { port: number; family: string } | undefined;
  try {
    address = sock.address();
  } catch {
    return undefined; // not bound yet: asked again later
  }
  const state = b && address.family === 'IPv4' ? socketState(sock) : undefined;
  const fd = state && openFd(state);
  const sender = b && state && fd !== undefined && boundPort(b, fd) === address.port ? makeSender(b, state, fd) : null;
  senders.set(sock, sender);
  return sender ?? undefined;
}

function makeSender(b: Binding, state: SocketState, fd: number): GsoSender | null {
  // The kernel knows the option (4.18 and later): an older one would ignore the control message and send the
  // whole run as one datagram, so a socket whose kernel does not answer for UDP_SEGMENT gets no sender.
  if (b.getsockopt(fd, SOL_UDP, UDP_SEGMENT, new Int32Array(1), [4]) !== 0) return null;
  const control = new Uint8Array(CMSG_SPACE);
  const cv = new DataView(control.buffer);
  cv.setBigUint64(0, BigInt(CMSG_LEN), true);
  cv.setInt32(8, SOL_UDP, true);
  cv.setInt32(12, UDP_SEGMENT, true);
  const name = new Uint8Array(16);
  name[0] = AF_INET;
  let nameKey = '';
  const iov: { iov_base: Uint8Array; iov_len: number }[] = [];
  const msg = { msg_name: name, msg_namelen: 16, msg_iov: iov, msg_iovlen: 0, msg_control: control, msg_controllen: CMSG_SPACE, msg_flags: 0 };
  let failures = 0;
  return {
    send(datagrams, from, count, address, port) {
      if (failures >= MAX_FAILURES || count < 1 || count > GSO_MAX_SEGMENTS) return false;
      // Closed (the handle is gone): its descriptor's number may be another file's by now. dgram reports the closed socket.
      if (openFd(state) !== fd) return false;
      const key = `${address}:${port}`;
      if (key !== nameKey) {
        if (!isIPv4(address)) return false;
        const octets = address.split('.');
        name[2] = port >>> 8;
        name[3] = port & 0xff;
        for (let i = 0; i < 4; i++) name[4 + i] = Number(octets[i]);
        nameKey = key;
      }
      const size = (datagrams[from] as { data: Uint8Array }).data.length;
      let total = 0;
      for (let i = from; i < from + count; i++) {
        const d = (datagrams[i] as { data: Uint8Array }).data;
        if (d.length > size || (d.length < size && i !== from + count - 1) || d.length === 0) return false;
        total += d.length;
      }
      if (total > GSO_MAX_BYTES) return false;
      // Packets cut one after another from the same slab lie end to end: one iovec for each such run.
      for (let i = from; i < from + count;) {
        const d = (datagrams[i] as { data: Uint8Array }).data;
        let end = d.byteOffset + d.length;
        let j = i + 1;
        for (; j < from + count; j++) {
          const e = (datagrams[j] as { data: Uint8Array }).data;
          if (e.buffer !== d.buffer || e.byteOffset !== end) break;
          end += e.length;
        }
        iov.push({ iov_base: j === i + 1 ? d : new Uint8Array(d.buffer, d.byteOffset, end - d.byteOffset), iov_len: end - d.byteOffset });
        i = j;
      }
      cv.setUint16(16, size, true);
      msg.msg_iovlen = iov.length;
      const sent = Number(b.sendmsg(fd, msg, 0));
      iov.length = 0;
      if (sent === total) {
        failures = 0;
        gsoCounters.sends++;
        gsoCounters.datagrams += count;
        return true;
      }
      // A full buffer is the moment's; anything else, again and again, is the kernel's or the device's answer to GSO.
      if (sent < 0 && !TRANSIENT.has(b.errno())) failures++;
      return false;
    },
  };
}
