#!/usr/bin/env bash
# Measures one fan-out configuration with cmd/bench, for BENCHMARKS.md:
#   scripts/bench-fanout.sh SERVER VIEWERS [COALESCE] [DURATION] [PROTO]
# SERVER is "ingest" (flvedge), "baseline" (cmd/bench/baseline, the floor)
# or "chain": three tiers, ingest -> shield edge -> edge, VIEWERS on the
# edge and as many on the ingest, whose lag is the reference (same run).
# COALESCE is a fixed write-merging delay such as 50ms (default 0: off), or
# for flvedge adaptive[:MAX] (the load-following wait, at most MAX, default
# 200ms).
# PROTO is h1 (default), or on the ingest's HTTPS listener h1s (HTTP/1.1
# over TLS), h2 or h3; h2 and h3 multiplex the viewers over shared
# connections (as many as one connection takes), h2-N and h3-N put N
# viewers on each connection (players of one page, e.g. h2-10), h2-conn
# and h3-conn give each viewer a connection of its own (viewers on
# different devices).
# The server and the load tool run side by side on this machine; the
# report (table on stdout, JSON in bench-SERVER-VIEWERS-COALESCE.json) has
# the server's CPU-seconds per GB, RSS per viewer, first keyframe and lag.
# BENCH_PORT (default 19935) moves the listeners (it and the next four), so
# that runs in other checkouts on the same machine do not collide.
# BENCH_INGEST, if set, is an ingest binary to measure instead of this
# checkout's (another commit's build, for a before-and-after pair).
# BENCH_TOOL, likewise, is a cmd/bench binary to load it with instead of
# this checkout's (e.g. another commit's HTTP/2 client).
set -euo pipefail
out=$PWD # the JSON report goes where the script was called from
cd "$(dirname "$0")/.."
server=${1:?ingest or baseline}
viewers=${2:?number of viewers}
coalesce=${3:-0s}
[ "$coalesce" != 0 ] || coalesce=0s # the config wants a unit
duration=${4:-30s}
proto=${5:-h1}

bin=$(mktemp -d)
# Wait for the servers to end: they drain first (up to 30 s with HTTP/3
# connections still open), and the next run binds the same ports.
trap 'kill ${pid:-} ${tiers:-} 2>/dev/null || true; wait ${pid:-} ${tiers:-} 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/ingest" ./cmd/ingest
go build -o "$bin/edge" ./cmd/edge
go build -o "$bin/baseline" ./cmd/bench/baseline
go build -o "$bin/bench" ./cmd/bench
[ -z "${BENCH_INGEST:-}" ] || cp "$BENCH_INGEST" "$bin/ingest"
[ -z "${BENCH_TOOL:-}" ] || cp "$BENCH_TOOL" "$bin/bench"

port=${BENCH_PORT:-19935}
rtmp=127.0.0.1:$port
http=127.0.0.1:$((port + 1))
https=127.0.0.1:$((port + 2))
url=http://$http/live/bench.flv
[ "$proto" = h1 ] || url=https://$https/live/bench.flv
flags=(--proto "${proto%%-*}")
case $proto in
h1s) flags=(--proto h1) ;;
*-conn) flags+=(--conn-per-viewer) ;;
*-[0-9]*) flags+=(--viewers-per-conn "${proto#*-}") ;;
esac
mode=fixed max=$coalesce
case $coalesce in adaptive*) mode=adaptive max=${coalesce#adaptive:} && [ "$max" != adaptive ] || max=200ms ;; esac
cfg=$bin/flvedge.yaml
printf 'viewers:\n  coalesce: %s\n  coalesce_mode: %s\nadmin:\n  listen: ""\n  access_log: false\nplayer:\n  enabled: false\n' "$max" "$mode" >"$cfg"
ref=()
case $server in
ingest)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$bin/key.pem" -out "$bin/cert.pem" 2>/dev/null
  "$bin/ingest" --config "$cfg" --rtmp-listen "$rtmp" --http-listen "$http" --log-level warn \
    --https-listen "$https" --tls-cert "$bin/cert.pem" --tls-key "$bin/key.pem" >/dev/null &
  ;;
baseline)
  "$bin/baseline" --rtmp-listen "$rtmp" --http-listen "$http" --coalesce "$coalesce" &
  ;;
chain)
  [ "$proto" = h1 ] || { echo "chain: HTTP/1.1 only" >&2; exit 2; }
  shield=127.0.0.1:$((port + 3))
  edge=127.0.0.1:$((port + 4))
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
"$bin/bench" --publish "rtmp://$rtmp/live/bench" --url "$url" "${flags[@]}" --insecure \
  --viewers "$viewers" "${ref[@]}" --ramp 5s --duration "$duration" --pid "$pid" \
  --json "$out/bench-$server-$viewers-$coalesce-$proto.json"
