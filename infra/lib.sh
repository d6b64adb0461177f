# Shared helpers for the infra scripts. Source it; do not run it.
HV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HV_CONFIGURATION="${HV_CONFIGURATION:-Release}"
HV_BIN_SILO="$HV_ROOT/src/Silo/bin/$HV_CONFIGURATION/net10.0/HvOrleans.Silo.dll"
HV_BIN_CLIENT="$HV_ROOT/src/Client/bin/$HV_CONFIGURATION/net10.0/hv.dll"
HV_BIN_SIM="$HV_ROOT/src/Simulator/bin/$HV_CONFIGURATION/net10.0/hv-sim.dll"
HV_BIN_DRILL="$HV_ROOT/src/Tools/bin/$HV_CONFIGURATION/net10.0/hv-drill.dll"
HV_BIN_AGENT="$HV_ROOT/src/Agent/bin/$HV_CONFIGURATION/net10.0/hv-agent.dll"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Azurite's published development key: the only key this repository holds.
HV_DEV_ACCOUNT_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

hv_log() { printf '[hv] %s\n' "$*" >&2; }

# npm ci only when node_modules is missing or older than the lock file.
hv_ensure_node_modules() {
  if [ ! -x "$HV_ROOT/node_modules/.bin/azurite" ] || [ "$HV_ROOT/package-lock.json" -nt "$HV_ROOT/node_modules/.package-lock.json" ]; then
    command -v npm >/dev/null || { hv_log "npm is required (Node.js 20+)"; return 1; }
    hv_log "installing Azurite (npm ci)…"
    (cd "$HV_ROOT" && npm ci --no-audit --no-fund --loglevel=error) >&2
  fi
}

hv_build() {
  hv_log "building ($HV_CONFIGURATION)…"
  dotnet build "$HV_ROOT/HvOrleans.sln" -c "$HV_CONFIGURATION" --nologo -v quiet -clp:ErrorsOnly >&2
  # An incremental build leaves unchanged outputs untouched: mark the build, or every later check rebuilds.
  touch "$HV_BIN_CLIENT"
}

# Builds when a program is missing or any source is newer than it, so a script never runs a stale
# binary after an edit (a no-op build still costs seconds; this check costs milliseconds).
hv_build_if_stale() {
  local bin
  for bin in "$HV_BIN_SILO" "$HV_BIN_CLIENT" "$HV_BIN_SIM" "$HV_BIN_DRILL" "$HV_BIN_AGENT"; do
    [ -f "$bin" ] || { hv_build; return; }
  done
  if [ -n "$(find "$HV_ROOT/src" "$HV_ROOT/Directory.Build.props" "$HV_ROOT/Directory.Packages.props" \
        \( -path '*/bin' -o -path '*/obj' \) -prune -o -type f -newer "$HV_BIN_CLIENT" -print -quit)" ]; then
    hv_build
  fi
}

# Debian packages the scripts use; installed when missing (root, as on a fresh machine).
hv_ensure_packages() { # command:package ...
  local missing=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || { hv_log "missing: ${missing[*]}; install them (apt-get install ${missing[*]})"; return 1; }
  hv_log "installing ${missing[*]} (apt-get)…"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2
}

# A whole number within bounds, or exit 2 naming the option.
hv_require_int() { # name value min max
  [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || { hv_log "$1 must be a whole number from $3 to $4; got '$2'"; exit 2; }
}

# Reads KEY=VALUE lines (no shell evaluation); prints the value of KEY, or nothing.
hv_read_setting() { # file key
  [ -f "$1" ] || return 0
  sed -n "s/^$2=\([0-9A-Za-z._\/-]*\)\$/\1/p" "$1" | tail -n 1
}

hv_connection_string() { # blob queue table ports
  printf 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%s/devstoreaccount1;QueueEndpoint=http://127.0.0.1:%s/devstoreaccount1;TableEndpoint=http://127.0.0.1:%s/devstoreaccount1;' \
    "$HV_DEV_ACCOUNT_KEY" "$1" "$2" "$3"
}

hv_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

hv_wait_ports() { # seconds port...
  local deadline=$((SECONDS + $1)); shift
  for p in "$@"; do
    until hv_port_open "$p"; do
      [ $SECONDS -lt $deadline ] || { hv_log "port $p did not open"; return 1; }
      sleep 0.2
    done
  done
}

hv_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# SIGTERM the process a pid file names, SIGKILL after 10 s, then remove the file.
hv_stop_pid_file() { # file
  local pid; pid="$(cat "$1" 2>/dev/null || true)"
  if hv_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do hv_alive "$pid" || break; sleep 0.2; done
    hv_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}

# What running real guests needs on the host: QEMU, qemu-img, and what the guest image is built from.
hv_ensure_guest_packages() {
  hv_ensure_packages qemu-system-x86_64:qemu-system-x86 qemu-img:qemu-utils /bin/busybox:busybox-static \
    /usr/sbin/qemu-ga:qemu-guest-agent cpio:cpio mke2fs:e2fsprogs
}
