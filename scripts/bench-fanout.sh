#!/usr/bin/env bash
# Measures one fan-out configuration with cmd/bench, for BENCHMARKS.md:
#   scripts/bench-fanout.sh SERVER VIEWERS [COALESCE] [DURATION] [PROTO]
# SERVER is "ingest" (flvedge), "baseline" (cmd/bench/baseline, the floor)
# or "chain": three tiers, ingest -> shield edge -> edge, VIEWERS on the
# edge and as many on the ingest, whose lag is the reference (same run).
# COALESCE is a write-merging delay such as 50ms (default 0: off).
# PROTO is h1 (default), h2 or h3 (ingest only, on its HTTPS listener).
# The server and the load tool run side by side on this machine; the
# report (table on stdout, JSON in bench-SERVER-VIEWERS-COALESCE.json) has
# the server's CPU-seconds per GB, RSS per viewer, first keyframe and lag.
set -euo pipefail
out=$PWD # the JSON report goes where the script was called from
cd "$(dirname "$0")/.."
server=${1:?ingest or baseline}
viewers=${2:?number of viewers}
coalesce=${3:-0s}
duration=${4:-30s}
proto=${5:-h1}

bin=$(mktemp -d)
trap 'kill ${pid:-} ${tiers:-} 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/ingest" ./cmd/ingest
go build -o "$bin/edge" ./cmd/edge
go build -o "$bin/baseline" ./cmd/bench/baseline
go build -o "$bin/bench" ./cmd/bench

rtmp=127.0.0.1:19935
http=127.0.0.1:18935
https=127.0.0.1:18936
url=http://$http/live/bench.flv
[ "$proto" = h1 ] || url=https://$https/live/bench.flv
ref=()
case $server in
ingest)
  cfg=$bin/flvedge.yaml
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$bin/key.pem" -out "$bin/cert.pem" 2>/dev/null
  printf 'viewers:\n  coalesce: %s\nadmin:\n  listen: ""\n  access_log: false\nplayer:\n  enabled: false\n' "$coalesce" >"$cfg"
  "$bin/ingest" --config "$cfg" --rtmp-listen "$rtmp" --http-listen "$http" --log-level warn \
    --https-listen "$https" --tls-cert "$bin/cert.pem" --tls-key "$bin/key.pem" >/dev/null &
  ;;
baseline)
  "$bin/baseline" --rtmp-listen "$rtmp" --http-listen "$http" --coalesce "$coalesce" &
  ;;
chain)
  [ "$proto" = h1 ] || { echo "chain: HTTP/1.1 only" >&2; exit 2; }
  cfg=$bin/flvedge.yaml
  printf 'viewers:\n  coalesce: %s\nadmin:\n  listen: ""\n  access_log: false\nplayer:\n  enabled: false\n' "$coalesce" >"$cfg"
  shield=127.0.0.1:18937
  edge=127.0.0.1:18938
  "$bin/ingest" --config "$cfg" --rtmp-listen "$rtmp" --http-listen "$http" --log-level warn >/dev/null &
  tiers=$!
  "$bin/edge" --config "$cfg" --http-listen "$shield" --origin "http://$http" --log-level warn >/dev/null &
  tiers="$tiers $!"
  "$bin/edge" --config "$cfg" --http-listen "$edge" --origin "http://$shield" --log-level warn >/dev/null &
  ref=(--ref-url "$url" --ref-viewers "$viewers")
  url=http://$edge/live/bench.flv
  ;;
*) echo "unknown server $server" >&2; exit 2 ;;
esac
pid=$!
sleep 1
"$bin/bench" --publish "rtmp://$rtmp/live/bench" --url "$url" --proto "$proto" --insecure \
  --viewers "$viewers" "${ref[@]}" --ramp 5s --duration "$duration" --pid "$pid" \
  --json "$out/bench-$server-$viewers-$coalesce-$proto.json"
