# Sourced by scripts/install-peers.sh: runs Debian 13 (trixie) programs on this Debian 12 machine
# without touching the system. apt works on a private configuration under $PEERS/apt (its own
# sources.list, package lists, status file and cache); packages are unpacked with dpkg-deb -x into
# $PEERS/trixie; wrappers start a program through trixie's own dynamic loader with trixie's library
# directory as the only search path, so bookworm's older glibc and OpenSSL never mix in.

TRIXIE=$PEERS/trixie
TRIXIE_LIB=$TRIXIE/usr/lib/x86_64-linux-gnu
APT_HOME=$PEERS/apt
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

# Where this machine's apt configuration lives (a constant; test/peers-mirror.test.ts points it at a
# fixture after sourcing this file).
APT_ETC=/etc/apt

# The Debian and Debian-security mirrors: $PQTLS_DEBIAN_MIRROR / $PQTLS_DEBIAN_SECURITY_MIRROR, else
# the first URL ending in /debian (/debian-security) that this machine's apt sources name, in
# one-line (sources.list, *.list) or deb822 (*.sources) format. No mirror is built in: with neither,
# this stops and says which variable to set.
debian_mirror() { # SUFFIX: debian or debian-security
  local var from_apt
  [ "$1" = debian ] && var=PQTLS_DEBIAN_MIRROR || var=PQTLS_DEBIAN_SECURITY_MIRROR
  if [ -n "${!var:-}" ]; then echo "${!var%/}"; return; fi
  from_apt=$(cat "$APT_ETC/sources.list" "$APT_ETC"/sources.list.d/*.list "$APT_ETC"/sources.list.d/*.sources 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -oE "https?://[^[:space:]]+/$1/?([[:space:]]|\$)" | head -n 1 | tr -d '[:space:]' || true)
  [ -n "$from_apt" ] || die "no Debian mirror found for '$1': neither \$$var is set nor does the apt configuration" \
    "($APT_ETC/sources.list, $APT_ETC/sources.list.d/*.list, *.sources) name a URL ending in /$1;" \
    "set $var to the mirror's URL (the one ending in /$1)"
  echo "$from_apt" | sed 's:/*$::'
}

apt_private() { # apt-get|apt-cache ARGS...: apt on the private configuration only
  local tool=$1; shift
  local opts=(
    -o "Dir::Etc::SourceList=$APT_HOME/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o "Dir::State::Lists=$APT_HOME/lists" -o "Dir::State::status=$APT_HOME/status"
    -o "Dir::Cache=$APT_HOME/cache" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
    -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o APT::Install-Recommends=false
    -o Acquire::Retries=3 -o Acquire::Languages=none
  )
  # As root apt drops to the _apt user for downloads, which cannot write into a private tree.
  [ "$(id -u)" != 0 ] || opts+=(-o APT::Sandbox::User=root)
  "$tool" "${opts[@]}" "$@"
}

# The status file tells apt that nothing is installed except two stand-ins: ssl-cert and
# openssl-provider-legacy are pulled in only for a system install (maintainer scripts that create
# users and snakeoil certificates; legacy ciphers), and with them apt would bring adduser, passwd,
# debconf and PAM along. Every other dependency, glibc included, comes from trixie.
write_apt_status() {
  local pkg arch
  : > "$APT_HOME/status"
  for pkg in ssl-cert:all openssl-provider-legacy:amd64; do
    arch=${pkg#*:}
    printf 'Package: %s\nStatus: install ok installed\nVersion: 999\nArchitecture: %s\nMulti-Arch: %s\nMaintainer: pqtls\nDescription: stand-in, not needed to run the programs\n\n' \
      "${pkg%:*}" "$arch" "$([ "$arch" = all ] && echo foreign || echo same)" >> "$APT_HOME/status"
  done
}

# Refreshes the package index once per installer run; the outcome is kept in a file named after
# the installer's PID ($$ is the same in its subshells), so that after a failure the other Debian
# peers fail at once instead of waiting out apt's retries again.
trixie_refresh_index() {
  local main security stamp=$APT_HOME/.index.$$ why
  if [ -f "$stamp" ]; then
    [ "$(cat "$stamp")" = ok ] && return 0
    die "$(cat "$stamp")"
  fi
  [ -r "$KEYRING" ] || die "$KEYRING is missing (Debian package debian-archive-keyring)"
  # debian_mirror runs in a subshell here: its die message is printed and recorded, exit follows.
  main=$(debian_mirror debian) || exit 1
  security=$(debian_mirror debian-security) || exit 1
  mkdir -p "$APT_HOME/lists/partial" "$APT_HOME/cache/archives/partial"
  {
    echo "deb [signed-by=$KEYRING] $main trixie main"
    echo "deb [signed-by=$KEYRING] $main trixie-updates main"
    echo "deb [signed-by=$KEYRING] $security trixie-security main"
  } > "$APT_HOME/sources.list"
  write_apt_status
  note "fetching the Debian trixie package index from $main"
  if apt_private apt-get -qq --error-on=any update >&2; then
    echo ok > "$stamp"
  else
    why="apt-get update for Debian trixie failed (is $main reachable? PQTLS_DEBIAN_MIRROR picks another mirror)"
    echo "$why" > "$stamp"
    die "$why"
  fi
}
trixie_forget_index() { rm -f "$APT_HOME/.index.$$"; }

# trixie_unpack PKG...: resolves PKG and its dependencies with apt's own resolver, downloads the
# packages not yet unpacked at the same version, and unpacks them into $TRIXIE. $TRIXIE/.unpacked
# records PKG=VERSION for what is there.
trixie_unpack() {
  local plan want=() p archives=$APT_HOME/cache/archives deb
  need apt-get; need dpkg-deb
  [ "$(uname -m)" = x86_64 ] || die "the Debian peers are only set up for x86_64, not $(uname -m)"
  trixie_refresh_index
  plan=$(apt_private apt-get -s install "$@" 2>&1) || die "apt cannot resolve $* in trixie: $(echo "$plan" | tail -n 3)"
  mkdir -p "$TRIXIE"; touch "$TRIXIE/.unpacked"
  for p in $(echo "$plan" | sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p'); do
    grep -qxF "$p" "$TRIXIE/.unpacked" || want+=("$p")
  done
  if [ ${#want[@]} -gt 0 ]; then
    note "downloading ${#want[@]} packages from trixie: ${want[*]}"
    rm -f "$archives"/*.deb
    apt_private apt-get -qq -y --download-only install "${want[@]}" >&2 \
      || die "downloading ${want[*]} from trixie failed"
    note "downloaded $(du -ck "$archives"/*.deb | tail -n 1 | cut -f1) KiB"
    for deb in "$archives"/*.deb; do dpkg-deb -x "$deb" "$TRIXIE" || die "dpkg-deb cannot unpack $deb"; done
    printf '%s\n' "${want[@]}" >> "$TRIXIE/.unpacked"
    rm -f "$archives"/*.deb
  fi
}

# The version of PKG unpacked into $TRIXIE, e.g. `trixie_version openssl` -> 3.5.9-1~deb13u1.
trixie_version() { sed -n "s/^$1=//p" "$TRIXIE/.unpacked" 2>/dev/null | tail -n 1; }

# Fails unless every shared library PROG needs resolves inside $TRIXIE: a library found on the
# host would be bookworm's, built for another glibc or OpenSSL.
trixie_check_libs() { # /usr/bin/PROG
  local listing outside
  listing=$("$TRIXIE_LIB/ld-linux-x86-64.so.2" --inhibit-cache --library-path "$TRIXIE_LIB" --list "$TRIXIE$1" 2>&1) \
    || die "trixie's loader cannot load $1: $listing"
  outside=$(echo "$listing" | awk '$2 == "=>" { print ($3 ~ /^\//) ? $3 : $1 }' | grep -v "^$TRIXIE/" || true)
  [ -z "$outside" ] || die "$1 needs libraries that are not in $TRIXIE: $outside"
}

# trixie_wrapper NAME /usr/bin/PROG [VAR=VALUE | VAR?=VALUE ...]: writes $PEERS/bin/NAME. Paths in it
# are relative to the wrapper, so the peers directory can move with the checkout; VALUE may use $T for
# the trixie root and $L for its library directory. VAR?=VALUE is only a default the caller may override.
trixie_wrapper() {
  local name=$1 prog=$2 kv; shift 2
  trixie_check_libs "$prog"
  {
    echo '#!/bin/sh'
    echo "# pqtls interop peer: $prog from Debian trixie, started by trixie's loader (scripts/install-peers.sh)"
    echo 'T=$(cd "$(dirname "$0")/../trixie" && pwd) || exit 127'
    echo 'L=$T/usr/lib/x86_64-linux-gnu'
    for kv in "$@"; do
      case ${kv%%=*} in
        *\?) echo "export ${kv%%\?=*}=\"\${${kv%%\?=*}:-${kv#*=}}\"" ;;
        *) echo "export ${kv%%=*}=\"${kv#*=}\"" ;;
      esac
    done
    echo "exec \"\$L/ld-linux-x86-64.so.2\" --inhibit-cache --library-path \"\$L\" --argv0 $name \"\$T$prog\" \"\$@\""
  } > "$BIN/$name"
  chmod 755 "$BIN/$name"
}
