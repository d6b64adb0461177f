# Shared helpers for the infra scripts. Source it; do not run it.
HV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HV_CONFIGURATION="${HV_CONFIGURATION:-Release}"
HV_BIN_SILO="$HV_ROOT/src/Silo/bin/$HV_CONFIGURATION/net10.0/HvOrleans.Silo.dll"
HV_BIN_CLIENT="$HV_ROOT/src/Client/bin/$HV_CONFIGURATION/net10.0/hv.dll"
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
