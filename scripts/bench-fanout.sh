#!/usr/bin/env bash
# Measures one fan-out configuration with cmd/bench, for BENCHMARKS.md:
#   scripts/bench-fanout.sh SERVER VIEWERS [COALESCE] [DURATION]
# SERVER is "ingest" (flvedge) or "baseline" (cmd/bench/baseline, the floor).
# COALESCE is a write-merging delay such as 50ms (default 0: off).
# The server and the load tool run side by side on this machine; the
# report (table on stdout, JSON in bench-SERVER-VIEWERS-COALESCE.json) has
# the server's CPU-seconds per GB, RSS per viewer, first keyframe and lag.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:?ingest or baseline}
viewers=${2:?number of viewers}
coalesce=${3:-0s}
duration=${4:-30s}

bin=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/ingest" ./cmd/ingest
go build -o "$bin/baseline" ./cmd/bench/baseline
go build -o "$bin/bench" ./cmd/bench

rtmp=127.0.0.1:19935
http=127.0.0.1:18935
case $server in
ingest)
  cfg=$bin/flvedge.yaml
  printf 'viewers:\n  coalesce: %s\nadmin:\n  listen: ""\n  access_log: false\nplayer:\n  enabled: false\n' "$coalesce" >"$cfg"
  "$bin/ingest" --config "$cfg" --rtmp-listen "$rtmp" --http-listen "$http" --log-level warn &
  ;;
baseline)
  "$bin/baseline" --rtmp-listen "$rtmp" --http-listen "$http" --coalesce "$coalesce" &
  ;;
*) echo "unknown server $server" >&2; exit 2 ;;
esac
pid=$!
sleep 1
"$bin/bench" --publish "rtmp://$rtmp/live/bench" --url "http://$http/live/bench.flv" \
  --viewers "$viewers" --ramp 5s --duration "$duration" --pid "$pid" \
  --json "bench-$server-$viewers-$coalesce.json"
