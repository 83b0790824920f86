#!/usr/bin/env bash
# Measures hot-cache VOD delivery of flvedge's edge against nginx with
# proxy_cache and slice, on this machine, with the same file, in one run,
# and the cold-cache origin bytes per file served, for BENCHMARKS.md:
#   scripts/bench-vod.sh [READERS] [DURATION] [EDGE]
# READERS (default 200) read the file in Range requests for DURATION
# (default 30s) from each server in turn. EDGE is the edge binary to
# measure (default: built from this tree).
#
# Environment:
#   VOD_MODE=cache  flvedge as a caching proxy: --vod-origin, --vod-cache-dir
#                   (default); "root": flvedge serves the file from its own
#                   disk with --vod-root (no cache, no cold figures): what
#                   the cache costs beside a local file
#   ROUNDS=1        hot runs per server, alternating: nginx, flvedge, nginx, ...
#   SERVERS="nginx flvedge"
#   RANGE_SIZE=1MiB ORDER=random   what each reader asks for (cmd/bench --vod)
#   COLD_READERS=50 concurrent whole-file readers of a cold cache ("0": none)
#   SIZE_MB=200     the test file's size
#   PROFILE=1       record each server (nginx: its workers) with perf for
#                   10 s during its first hot run: a summary on stdout, the
#                   record kept in bench-vod-SERVER.perf.data (perf report -i);
#                   perf costs the server some CPU: measure without it
#
# The file is a real FLV with a keyframe index in its onMetaData (so that
# every server sends it as stored): 10 s of 720p H.264 at 4 Mbit/s and AAC
# made by ffmpeg, looped with -c copy to SIZE_MB, kept in
# ~/.cache/flvedge. Debian's nginx is the origin, serving it statically on
# loopback and logging the body bytes of every answer. The servers under
# test: nginx (Debian's, 2 worker processes for the 2 cores that flvedge's
# GOMAXPROCS uses here) with the standard slice recipe (slice 1m, cache
# key with $slice_range, proxy_cache_lock so that concurrent misses wait
# for one fetch), sendfile on, open_file_cache, access log off; flvedge's
# edge with access log off. Each server starts with an empty cache for
# each run: one whole read (cold, its origin bytes counted, in the first
# round), a HIT checked, then the readers, every byte checked against the
# file (CPU-seconds per GB of the server's processes, from /proc, the
# bench's own CPU apart). Then, from an empty cache again, COLD_READERS
# whole-file readers at once (curl), and the origin's bytes for them.
set -euo pipefail
out=$PWD # JSON reports go where the script was called from
cd "$(dirname "$0")/.."
readers=${1:-200}
duration=${2:-30s}
edge=${3:-}
mode=${VOD_MODE:-cache}
rounds=${ROUNDS:-1}
servers=${SERVERS:-nginx flvedge}
range_size=${RANGE_SIZE:-1MiB}
order=${ORDER:-random}
cold_readers=${COLD_READERS:-50}
size_mb=${SIZE_MB:-200}

need() { command -v "$1" >/dev/null || { echo "bench-vod: $1 is needed ($2)" >&2; exit 1; }; }
need nginx "Debian package nginx"
need curl "Debian package curl"
need ffmpeg "Debian package ffmpeg"
[ "${PROFILE:-0}" = 1 ] && need perf "Debian package linux-perf"
case $mode in cache | root) ;; *) echo "VOD_MODE=$mode: cache or root" >&2; exit 2 ;; esac

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/bench" ./cmd/bench
if [ -z "$edge" ]; then
  go build -o "$work/edge" ./cmd/edge
  edge=$work/edge
fi

# The test file, made once.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/flvedge
file=$cache/vod-bench-${size_mb}MB.flv
if [ ! -s "$file" ]; then
  mkdir -p "$cache"
  echo "== making $file (once)" >&2
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i testsrc2=size=1280x720:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
    -c:v libx264 -preset ultrafast -b:v 4M -maxrate 4M -bufsize 4M -g 50 -keyint_min 50 -sc_threshold 0 \
    -pix_fmt yuv420p -c:a aac -b:a 128k -t 10 -f flv "$work/segment.flv"
  seg=$(stat -c %s "$work/segment.flv")
  loops=$(((size_mb * 1000000 + seg - 1) / seg))
  ffmpeg -hide_banner -loglevel error -y -stream_loop $((loops - 1)) -i "$work/segment.flv" \
    -c copy -flvflags add_keyframe_index -f flv "$file.tmp"
  mv "$file.tmp" "$file"
fi
size=$(stat -c %s "$file")
name=film.flv

# A free loopback port: nothing answers on it.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# wait_http URL: until the server answers, whatever it says (not a file
# that it would cache).
wait_http() {
  for _ in $(seq 100); do
    curl -s -o /dev/null "$1" && return
    sleep 0.1
  done
  echo "bench-vod: $1 does not answer" >&2
  cat "$work"/*/error.log >&2 2>/dev/null || true
  exit 1
}

# nginx_conf DIR WORKERS SERVER-BLOCK: a config of nginx's own under DIR.
nginx_conf() {
  mkdir -p "$1/tmp"
  cat >"$1/nginx.conf" <<EOF
daemon off;
user root;
worker_processes $2;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
http {
  default_type application/octet-stream;
  client_body_temp_path $1/tmp/body;
  proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi;
  scgi_temp_path $1/tmp/scgi;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  $3
}
EOF
}

# The origin: the file at /film.flv and /vod/film.flv (hard links, or
# copies on another file system), every answer's body bytes logged.
origin_port=$(free_port)
mkdir -p "$work/origin/root/vod"
for f in "$work/origin/root/$name" "$work/origin/root/vod/$name"; do ln "$file" "$f" 2>/dev/null || cp "$file" "$f"; done
nginx_conf "$work/origin" 1 "log_format bytes '\$body_bytes_sent \$status \"\$http_range\"';
  access_log $work/origin/access.log bytes;
  server { listen 127.0.0.1:$origin_port; root $work/origin/root; }"
nginx -e "$work/origin/error.log" -c "$work/origin/nginx.conf" &
pids+=($!)
wait_http "http://127.0.0.1:$origin_port/"

# origin_bytes: the body bytes the origin has sent so far.
origin_bytes() { awk '{n += $1} END {print n + 0}' "$work/origin/access.log" 2>/dev/null || echo 0; }

port=$(free_port)
url=http://127.0.0.1:$port/vod/$name
server_pid=

# start SERVER: runs it on $port with an empty cache; sets server_pid.
start() {
  rm -rf "$work/$1"
  mkdir -p "$work/$1/cache"
  case $1 in
  nginx)
    nginx_conf "$work/nginx" 2 "access_log off;
  open_file_cache max=1000 inactive=60s;
  proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=vod:10m max_size=2g inactive=1d use_temp_path=off;
  upstream origin { server 127.0.0.1:$origin_port; keepalive 32; }
  server {
    listen 127.0.0.1:$port;
    location /vod/ {
      slice 1m;
      proxy_cache vod;
      proxy_cache_key \$uri\$is_args\$args\$slice_range;
      proxy_set_header Range \$slice_range;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_cache_valid 200 206 1d;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 60s;
      proxy_cache_lock_age 60s;
      add_header X-Cache-Status \$upstream_cache_status always;
      proxy_pass http://origin;
    }
  }"
    nginx -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
    ;;
  flvedge)
    printf 'admin:\n  listen: ""\n  access_log: false\nplayer:\n  enabled: false\n' >"$work/flvedge/flvedge.yaml"
    if [ "$mode" = cache ]; then
      "$edge" --config "$work/flvedge/flvedge.yaml" --http-listen "127.0.0.1:$port" --log-level warn \
        --vod-origin "/vod=http://127.0.0.1:$origin_port" --vod-cache-dir "$work/flvedge/cache" --vod-cache-size 2GiB >/dev/null 2>"$work/flvedge/error.log" &
    else
      "$edge" --config "$work/flvedge/flvedge.yaml" --http-listen "127.0.0.1:$port" --log-level warn \
        --vod-root "/vod=$work/origin/root" >/dev/null 2>"$work/flvedge/error.log" &
    fi
    ;;
  *) echo "unknown server $1" >&2; exit 2 ;;
  esac
  server_pid=$!
  pids+=("$server_pid")
  wait_http "http://127.0.0.1:$port/"
}

# stop SERVER: stops it and shows a summary of what it logged.
stop() {
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  if [ -s "$work/$1/error.log" ]; then
    echo "== $1 logged $(wc -l <"$work/$1/error.log") lines; the first and the last:" >&2
    head -n 3 "$work/$1/error.log" >&2
    tail -n 2 "$work/$1/error.log" >&2
  fi
}

# cold_read N: N whole-file reads at once; prints the origin's bytes per
# file served.
cold_read() {
  local before after i failed=0
  before=$(origin_bytes)
  local got=()
  for i in $(seq "$1"); do
    curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "$url" >"$work/cold-$i" &
    got+=($!)
  done
  for p in "${got[@]}"; do wait "$p" || failed=$((failed + 1)); done
  for i in $(seq "$1"); do
    [ "$(cat "$work/cold-$i")" = "200 $size" ] || { failed=$((failed + 1)); echo "cold read $i: $(cat "$work/cold-$i")" >&2; }
  done
  sleep 0.5 # the origin logs an answer when it has sent it
  after=$(origin_bytes)
  awk -v b=$((after - before)) -v s="$size" -v n="$1" -v f="$failed" \
    'BEGIN {printf "%.3f copies of the file from the origin for %d served (%d failed)", b / s, n, f}'
}

# cache_status: X-Cache-Status of a request for the file's first KiB.
cache_status() {
  curl -s -o /dev/null -D - -r 0-1023 "$url" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-cache-status" {print $2}'
}

summary=()
for round in $(seq "$rounds"); do
  for server in $servers; do
    start "$server"
    if [ "$server" = flvedge ] && [ "$mode" = root ]; then
      [ "$round" = 1 ] && summary+=("flvedge, --vod-root (no cache): no cold figures")
    elif [ "$round" = 1 ]; then
      echo "== $server: one cold whole read" >&2
      summary+=("$server cold, 1 reader: $(cold_read 1)")
    else
      curl -s -o /dev/null "$url" # warm the cache: one whole read
    fi
    if [ "$server" = nginx ] || [ "$mode" = cache ]; then
      status=$(cache_status)
      [ "$status" = HIT ] || { echo "bench-vod: $server: X-Cache-Status '$status' after a whole read, want HIT" >&2; exit 1; }
    fi
    json=$out/bench-vod-$server-$readers-$round.json
    echo "== $server, round $round: $readers readers for $duration" >&2
    perf_pid=
    if [ "${PROFILE:-0}" = 1 ] && [ "$round" = 1 ]; then
      targets=$server_pid
      # nginx works in its master's children.
      [ "$server" = nginx ] && targets=$(cat /proc/"$server_pid"/task/*/children | tr -s ' \n' ',' | sed 's/,$//')
      (sleep 5 && perf record -q -F 499 -g -p "$targets" -o "$out/bench-vod-$server.perf.data" -- sleep 10 >/dev/null 2>&1) &
      perf_pid=$!
    fi
    "$work/bench" --vod "$url" --readers "$readers" --range-size "$range_size" --order "$order" \
      --duration "$duration" --pid "$server_pid" --verify "$file" --json "$json"
    if [ -n "$perf_pid" ]; then
      wait "$perf_pid" || true
      echo "== perf profile of $server, 10 s during the run: by binary, then by function"
      for sort in dso dso,symbol; do
        perf report -i "$out/bench-vod-$server.perf.data" --stdio --no-children --sort "$sort" -g none --percent-limit 0.7 2>/dev/null |
          grep -v -e '^#' -e '^$' || true
      done
    fi
    summary+=("$(awk -v s="$server" -v r="$round" '
      /"cpu_seconds_per_gb"/ {gsub(/[,]/, ""); cpu = $2}
      /"total_gbps"/ {gsub(/[,]/, ""); gbps = $2}
      /"requests_per_second"/ {gsub(/[,]/, ""); rps = $2}
      /"errors"/ {gsub(/[,]/, ""); errs = $2}
      END {printf "%s hot, round %d: %.3f CPU-s/GB, %.2f Gbit/s, %.0f req/s, %d errors", s, r, cpu, gbps, rps, errs}' "$json")")
    stop "$server"
  done
done

if [ "$cold_readers" -gt 0 ]; then
  for server in $servers; do
    [ "$server" = flvedge ] && [ "$mode" = root ] && continue
    start "$server"
    echo "== $server: $cold_readers cold whole reads at once" >&2
    summary+=("$server cold, $cold_readers readers: $(cold_read "$cold_readers")")
    stop "$server"
  done
fi

echo
echo "== summary: $readers readers of $range_size ($order) for $duration, file $size bytes"
printf '%s\n' "${summary[@]}"
