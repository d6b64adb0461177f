#!/usr/bin/env bash
# Local HvOrleans cluster: Azurite plus N silo processes on Azure Table membership.
#   infra/cluster.sh up [--silos N] [--fresh] [--tls]
#                                               start (or top up) the cluster; data is kept across up/down;
#                                               --tls: mutual TLS with certificates from 'hv tls init' in $HV_HOME/tls
#   infra/cluster.sh down                       stop exactly what 'up' started
#   infra/cluster.sh status                     what is running
#   infra/cluster.sh kill <i> | restart <i>     SIGKILL silo i / start it again as a fresh process
# State (Azurite data, logs, pids, cluster.json for hv) lives in $HV_HOME (default ~/.hvorleans).
# Silo i serves http://127.0.0.1:$HV_WEB_PORT_BASE+i (default 8080+i; https with --tls): the fleet page /, the API /api/v1,
# /healthz, Prometheus /metrics and the Orleans Dashboard /dashboard/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

HV_HOME="${HV_HOME:-$HOME/.hvorleans}"
# Ports: the environment's HV_*_PORT_BASE, else what 'up' recorded in $HV_HOME/ports.env (read, never
# evaluated), else defaults.
port_setting() { # name default
  local value="${!1:-$(hv_read_setting "$HV_HOME/ports.env" "$1")}"
  value="${value:-$2}"
  hv_require_int "$1" "$value" 1024 65000
  printf '%s' "$value"
}
PORT_BASE="$(port_setting HV_AZURITE_PORT_BASE 10100)"
BLOB=$PORT_BASE QUEUE=$((PORT_BASE + 1)) TABLE=$((PORT_BASE + 2))
SILO_PORT_BASE="$(port_setting HV_SILO_PORT_BASE 11111)" GATEWAY_PORT_BASE="$(port_setting HV_GATEWAY_PORT_BASE 30000)"
WEB_PORT_BASE="$(port_setting HV_WEB_PORT_BASE 8080)"
CONN="$(hv_connection_string $BLOB $QUEUE $TABLE)"

pid_of() { cat "$HV_HOME/$1.pid" 2>/dev/null || true; }

start_azurite() {
  if hv_alive "$(pid_of azurite)"; then return; fi
  hv_ensure_node_modules
  mkdir -p "$HV_HOME/azurite"
  hv_log "starting Azurite on 127.0.0.1:$BLOB-$TABLE (data in $HV_HOME/azurite)"
  setsid "$HV_ROOT/node_modules/.bin/azurite" --blobHost 127.0.0.1 --blobPort $BLOB --queueHost 127.0.0.1 --queuePort $QUEUE \
    --tableHost 127.0.0.1 --tablePort $TABLE --location "$HV_HOME/azurite" --skipApiVersionCheck --disableTelemetry --silent \
    > "$HV_HOME/azurite.log" 2>&1 < /dev/null &
  echo $! > "$HV_HOME/azurite.pid"
  hv_wait_ports 30 $BLOB $QUEUE $TABLE
}

start_silo() { # index
  local i=$1
  if hv_alive "$(pid_of silo-$i)"; then return; fi
  # Appended, not truncated: the log of the life before a kill is what explains it.
  printf '=== silo %s starting at %s\n' "$i" "$(date -u +%FT%T.%3NZ)" >> "$HV_HOME/silo-$i.log"
  hv_log "starting silo $i (silo port $((SILO_PORT_BASE + i)), gateway $((GATEWAY_PORT_BASE + i)), web $(web_scheme)://127.0.0.1:$((WEB_PORT_BASE + i))/; log $HV_HOME/silo-$i.log)"
  tls_env silo env Hv__Storage=Azure Hv__ConnectionString="$CONN" Hv__SiloPort=$((SILO_PORT_BASE + i)) Hv__GatewayPort=$((GATEWAY_PORT_BASE + i)) \
    Hv__Web__Port=$((WEB_PORT_BASE + i)) \
    setsid dotnet "$HV_BIN_SILO" --contentRoot "$(dirname "$HV_BIN_SILO")" >> "$HV_HOME/silo-$i.log" 2>&1 < /dev/null &
  echo $! > "$HV_HOME/silo-$i.pid"
}

TLS_DIR="$HV_HOME/tls"
tls_on() { [ -f "$HV_HOME/tls.on" ]; }
web_scheme() { tls_on && echo https || echo http; }

tls_env() { # silo|client command... — execs the command with that party's TLS settings when TLS is on;
            # only ever in a background subshell (&), so that $! is the program's own pid
  local who=$1; shift
  if tls_on; then
    exec env Hv__Tls__CaPath="$TLS_DIR/ca.crt" Hv__Tls__CertificatePath="$TLS_DIR/$who.crt" Hv__Tls__KeyPath="$TLS_DIR/$who.key" "$@"
  else
    exec "$@"
  fi
}

write_client_config() { # silos
  # Built by jq, so that any path or key is quoted correctly. WebUrls: hv's read-only commands ask a web side (no Orleans client to start).
  jq -n --arg conn "$CONN" --arg tls "$TLS_DIR" --argjson on "$(tls_on && echo true || echo false)" --argjson silos "$1" --argjson web "$WEB_PORT_BASE" '
    { Hv: ({ Storage: "Azure", ClusterId: "hv-local", ServiceId: "hvorleans", ConnectionString: $conn,
             Client: { WebUrls: [range(0; $silos) | "http://127.0.0.1:\($web + .)"] } }
      + (if $on then { Tls: { CaPath: "\($tls)/ca.crt", CertificatePath: "\($tls)/client.crt", KeyPath: "\($tls)/client.key" } } else {} end)) }' \
    > "$HV_HOME/cluster.json"
}

wait_for_cluster() {
  local deadline=$((SECONDS + 90)) rc
  while :; do
    # A refusal (exit 1: no such host) proves a silo answered; exit 3 means nobody did yet.
    rc=0; HV_HOME="$HV_HOME" dotnet "$HV_BIN_CLIENT" host show hv-cluster-probe >/dev/null 2>&1 || rc=$?
    [ $rc -eq 1 ] || [ $rc -eq 0 ] && return 0
    [ $SECONDS -lt $deadline ] || { hv_log "the cluster did not answer in 90 s; see $HV_HOME/silo-*.log"; return 1; }
    sleep 0.5
  done
}

stop_pid() { hv_stop_pid_file "$HV_HOME/$1.pid"; }

silo_indexes() { for f in "$HV_HOME"/silo-*.pid; do [ -e "$f" ] && basename "$f" .pid | sed 's/silo-//'; done | sort -n; }

cmd_down() {
  # Agents first, with their guests: 'down' leaves no QEMU process behind.
  local f
  for f in "$HV_HOME"/agent-*.pid; do
    [ -e "$f" ] || continue
    f="$(basename "$f" .pid)"; HV_HOME="$HV_HOME" "$HV_ROOT/infra/agent.sh" stop "${f#agent-}"
  done
  # Silos before Azurite: silos that lose their membership table can hang on shutdown.
  for i in $(silo_indexes); do stop_pid "silo-$i"; done
  stop_pid azurite
  hv_log "cluster stopped; data kept in $HV_HOME/azurite"
}

cmd_up() {
  local silos=1 fresh=0 tls=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --silos) hv_require_int --silos "${2:-}" 1 20; silos="$2"; shift 2 ;;
      --fresh) fresh=1; shift ;;
      --tls) tls=1; shift ;;
      *) hv_log "unknown option $1"; exit 2 ;;
    esac
  done
  mkdir -p "$HV_HOME"
  if [ $fresh -eq 1 ]; then cmd_down; rm -rf "$HV_HOME/azurite"; fi
  hv_build_if_stale
  if [ $tls -eq 1 ]; then
    [ -f "$TLS_DIR/ca.crt" ] || dotnet "$HV_BIN_CLIENT" tls init --dir "$TLS_DIR" >&2
    touch "$HV_HOME/tls.on"
  elif tls_on && [ -n "$(silo_indexes)" ]; then
    hv_log "the cluster runs with TLS; keep --tls, or 'down' first"; exit 2
  else
    rm -f "$HV_HOME/tls.on"
  fi
  start_azurite
  printf 'HV_AZURITE_PORT_BASE=%s\nHV_SILO_PORT_BASE=%s\nHV_GATEWAY_PORT_BASE=%s\nHV_WEB_PORT_BASE=%s\n' "$PORT_BASE" "$SILO_PORT_BASE" "$GATEWAY_PORT_BASE" "$WEB_PORT_BASE" > "$HV_HOME/ports.env"
  write_client_config "$silos"
  for i in $(seq 0 $((silos - 1))); do start_silo "$i"; done
  wait_for_cluster
  hv_log "cluster up: $silos silo(s)$(tls_on && echo ", mutual TLS (certificates in $TLS_DIR)"). Use ./hv (it reads $HV_HOME/cluster.json); stop with infra/cluster.sh down"
}

cmd_status() {
  printf 'azurite  %s\n' "$(hv_alive "$(pid_of azurite)" && echo "running (pid $(pid_of azurite))" || echo stopped)"
  for i in $(silo_indexes); do
    printf 'silo-%s   %s\n' "$i" "$(hv_alive "$(pid_of silo-$i)" && echo "running (pid $(pid_of silo-$i)), $(web_scheme)://127.0.0.1:$((WEB_PORT_BASE + i))/ (fleet page; /api/v1, /healthz, /metrics, /dashboard/)" || echo dead)"
  done
}

# A silo index that 'up' started.
silo_index() { # value
  hv_require_int "silo index" "${1:-}" 0 19
  [ -f "$HV_HOME/silo-$1.pid" ] || [ -f "$HV_HOME/silo-$1.log" ] ||
    { hv_log "no silo $1 in $HV_HOME (infra/cluster.sh status lists them)"; exit 2; }
}

usage() { sed -n '2,11p' "$0"; exit 2; }
hv_ensure_packages jq:jq
case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) [ $# -eq 1 ] || usage; cmd_down ;;
  status) [ $# -eq 1 ] || usage; cmd_status ;;
  kill) [ $# -eq 2 ] || usage; silo_index "$2"
        hv_alive "$(pid_of "silo-$2")" || { hv_log "silo $2 is not running"; exit 1; }
        kill -KILL "$(pid_of "silo-$2")" && rm -f "$HV_HOME/silo-$2.pid" && hv_log "silo $2 killed (SIGKILL)" ;;
  restart) [ $# -eq 2 ] || usage; silo_index "$2"; stop_pid "silo-$2"; start_silo "$2"; wait_for_cluster ;;
  *) usage ;;
esac
