#!/usr/bin/env bash
# Measures the memory of idle streams (published, no viewers), for
# BENCHMARKS.md:  scripts/bench-idle-streams.sh [STREAMS] [CLIP]
# CLIP defaults to the ingest's demo clip (320x180, about 200 kbit/s); each
# stream keeps its window (config: window.duration, window.bytes).
set -euo pipefail
cd "$(dirname "$0")/.."
streams=${1:-1000}
clip=${2:-internal/app/demo.flv}
bin=$(mktemp -d)
trap 'kill "${pid:-}" "${bench:-}" 2>/dev/null || true; rm -rf "$bin"' EXIT
go build -o "$bin/ingest" ./cmd/ingest
go build -o "$bin/bench" ./cmd/bench
# Every stream comes from this one client: lift the per-client and count
# limits above the streams published.
printf 'admin:\n  listen: ""\nplayer:\n  enabled: false\nlimits:\n  streams: %d\n  publishers: %d\n  rtmp_connections: %d\n  rtmp_connections_per_client: 0\n' \
	$((streams + 10)) $((streams + 10)) $((streams + 10)) >"$bin/flvedge.yaml"
"$bin/ingest" --config "$bin/flvedge.yaml" --rtmp-listen 127.0.0.1:19936 --http-listen 127.0.0.1:18936 --log-level warn &
pid=$!
sleep 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
idle=$(rss)
"$bin/bench" --publish rtmp://127.0.0.1:19936/live/idle --streams "$streams" --file "$clip" --duration 40s >/dev/null &
bench=$!
sleep 30 # every window full (10 s by default), then some
loaded=$(rss)
cpu0=$(awk '{print $14+$15}' "/proc/$pid/stat")
sleep 10
cpu1=$(awk '{print $14+$15}' "/proc/$pid/stat")
wait "$bench" || true
tick=$(getconf CLK_TCK)
echo "streams $streams, clip $clip"
echo "server RSS idle $((idle / 1024)) MiB, with the streams $((loaded / 1024)) MiB: $(((loaded - idle) / streams)) KiB per stream"
echo "server CPU $(awk -v a="$cpu0" -v b="$cpu1" -v t="$tick" 'BEGIN {printf "%.0f", (b-a)/t/10*100}')% of one core for the publishes"
