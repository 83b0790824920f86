#!/usr/bin/env bash
# The region test's topology: the two-region layout of deploy/configs built
# from network namespaces on one machine, so that a host's link can really
# be cut. internal/regiontest drives it; it can be run by hand too:
#
#   scripts/regiontest.sh try                  build, bring it all up, tear it down on Enter
#   scripts/regiontest.sh check RUN            can this machine run it? if not, why
#   scripts/regiontest.sh up RUN DIR BINDIR    bring it up: hosts, servers, encoders
#   scripts/regiontest.sh exec RUN HOST CMD... run CMD on a host
#   scripts/regiontest.sh cut RUN HOST         unplug a host's link at the switch
#   scripts/regiontest.sh restore RUN HOST     plug it back
#   scripts/regiontest.sh down RUN             stop every process of the run, remove its namespaces
#
# Hosts, each a namespace RUN-HOST with eth0 at 10.77.0.X/24:
#
#   ingest0 .10, ingest1 .11  ingests, each fed by its own ffmpeg encoder
#                             (primary and backup) publishing live/cam
#   shield .20                edge pulling from ingest0, else ingest1
#   edge-eu .31, edge-us .32  regional edges pulling from the shield, else
#                             ingest0, else ingest1
#   viewer-eu .41, viewer-us .42  where each region's viewers play from
#
# Every eth0 is one end of a veth pair; the other end, named after the
# host, is a port of the bridge br0 in the namespace RUN-hub: the switch.
# Nothing is added to the root namespace and no host has a route beyond the
# /24, so no traffic can leave the topology. Every server listens on :1935
# (RTMP), :8080 (HTTP) and :9090 (admin, /metrics) of its host.
#
# RUN is frt<PID>-<TAG>: PID is a process that lives as long as the run (the
# test, or the shell of `try`), TAG is [a-z0-9]+. Names are unique per run,
# and `up` first removes what runs whose PID is gone left behind (a run
# killed before its clean-up), so a crashed run never breaks the next. Every
# process is started under timeout(1), REGIONTEST_LIFETIME seconds (default
# 600), so none outlives a run that lost its clean-up.
#
# Needs root (creating namespaces takes CAP_SYS_ADMIN and CAP_NET_ADMIN),
# iproute2, curl and ffmpeg. DIR receives the configs and every process's
# log; BINDIR holds ingest and edge built from ./cmd/ingest and ./cmd/edge.
set -euo pipefail
# This script, as try shows it in commands to paste from anywhere.
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

hosts=(ingest0 ingest1 shield edge-eu edge-us viewer-eu viewer-us)
declare -A addr=([ingest0]=10.77.0.10 [ingest1]=10.77.0.11 [shield]=10.77.0.20
  [edge-eu]=10.77.0.31 [edge-us]=10.77.0.32 [viewer-eu]=10.77.0.41 [viewer-us]=10.77.0.42)
lifetime=${REGIONTEST_LIFETIME:-600}
# The hosts stand for machines of their own: what runs on them runs at a
# higher priority than the rest of this machine, so that other work here
# (such as the rest of the test suite, with its encoders and the race
# detector) cannot starve a server into a silence that looks like a cut
# link to the next tier.
priority=-10

die() {
  printf 'regiontest: %b\n' "$*" >&2
  exit 1
}

check_run() {
  [[ $1 =~ ^frt[0-9]+-[a-z0-9]+$ ]] || die "bad run name '$1': frt<PID>-<TAG>, PID a process that lives as long as the run"
  RUN=$1
}

check_host() {
  [ -n "${addr[$1]:-}" ] || die "unknown host '$1'; hosts: ${hosts[*]}"
}

# on HOST CMD...: run CMD in HOST's namespace.
on() {
  local host=$1
  shift
  ip netns exec "$RUN-$host" "$@"
}

# spawn HOST LOG CMD...: start CMD in HOST's namespace in the background,
# bounded by the run's lifetime; its output goes to LOG, never to our
# stdout, so that whoever reads ours is not held open by it.
spawn() {
  local host=$1 log=$2
  shift 2
  ip netns exec "$RUN-$host" nice -n "$priority" timeout -k 5 "$lifetime" "$@" >"$log" 2>&1 </dev/null &
}

# wait_ok HOST URL WHAT LOG [CURL-OPTION...]: wait until URL answers 2xx
# from inside HOST; else fail with the end of LOG.
wait_ok() {
  local host=$1 url=$2 what=$3 log=$4 end=$((SECONDS + 15))
  shift 4
  while [ $SECONDS -lt $end ]; do
    on "$host" curl -fsS -o /dev/null --max-time 1 "$@" "$url" 2>/dev/null && return 0
    sleep 0.15
  done
  die "$what did not answer $url within 15 s; the end of $log:\n$(tail -n 20 "$log")"
}

# run_namespaces RUN: the run's namespaces.
run_namespaces() {
  ip netns list | awk '{print $1}' | grep -E "^$1-" || true
}

# living PID...: those of the processes that have not exited. A zombie
# has: it waits for whoever adopted it to reap it.
living() {
  local p stat
  for p; do
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    stat=${stat##*) } # the state follows the command name, which may hold anything
    [ "${stat:0:1}" = Z ] || echo "$p"
  done
}

# down_run RUN: stop every process in the run's namespaces (all started
# by the run), then remove the namespaces, and with them the veths and the
# bridge.
down_run() {
  local ns nss pids=() alive=()
  mapfile -t nss < <(run_namespaces "$1")
  for ns in "${nss[@]}"; do
    mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns")
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 30); do
      mapfile -t alive < <(living "${pids[@]}")
      [ ${#alive[@]} -gt 0 ] || break
      sleep 0.1
    done
    [ ${#alive[@]} -eq 0 ] || kill -KILL "${alive[@]}" 2>/dev/null || true
  fi
  for ns in "${nss[@]}"; do
    ip netns del "$ns"
  done
}

# sweep removes the namespaces of runs whose owner process is gone.
sweep() {
  local run owner
  for run in $(ip netns list | sed -n 's/^\(frt[0-9]\+-[a-z0-9]\+\)-.*/\1/p' | sort -u); do
    owner=${run#frt}
    owner=${owner%%-*}
    if ! kill -0 "$owner" 2>/dev/null; then
      echo "regiontest: removing $run, left by a run that ended without its clean-up" >&2
      down_run "$run"
    fi
  done
}

write_configs() {
  local dir=$1
  # The shape of deploy/configs with this topology's addresses. Shorter
  # timeouts: the shield fails over after 2 s of silence (3 s in the
  # sample), so that a viewer's picture stops for less than 3 s, and gives
  # up connecting to an ingest after 1 s (3 s by default; inside a site an
  # answer takes milliseconds), so that going round the list past a cut
  # ingest is quick too. The regional edges keep the default 5 s stall
  # timeout, longer than the shield's failover, so that they ride it out
  # on the shield instead of going to the ingests themselves. A 1 s drain
  # makes `down` quick.
  cat >"$dir/ingest.yaml" <<EOF
rtmp_listen: ":1935"
http_listen: ":8080"
admin:
  listen: ":9090"
window:
  duration: 10s
  bytes: 64MiB
publish:
  grace: 10s
viewers:
  drain: 1s
EOF
  cat >"$dir/shield.yaml" <<EOF
http_listen: ":8080"
admin:
  listen: ":9090"
viewers:
  drain: 1s
upstream:
  node_id: shield
  origins:
    - http://${addr[ingest0]}:8080
    - http://${addr[ingest1]}:8080
  connect_timeout: 1s
  stall_timeout: 2s
  idle_timeout: 30s
EOF
  local region
  for region in eu us; do
    cat >"$dir/edge-$region.yaml" <<EOF
http_listen: ":8080"
admin:
  listen: ":9090"
viewers:
  coalesce: 0s
  drain: 1s
upstream:
  node_id: edge-$region
  origins:
    - http://${addr[shield]}:8080
    - http://${addr[ingest0]}:8080
    - http://${addr[ingest1]}:8080
  idle_timeout: 15s
EOF
  done
}

# undo_on_failure is up's EXIT trap: an up that fails leaves nothing behind.
undo_on_failure() {
  local status=$?
  [ $status -eq 0 ] || down_run "$RUN"
  exit $status
}

# check_machine fails with the reason when this machine cannot run the
# topology: a missing tool, or no permission to create network namespaces.
check_machine() {
  local tool err
  for tool in ip curl ffmpeg timeout; do
    command -v "$tool" >/dev/null || die "$tool is needed and was not found (apt-get install iproute2 curl ffmpeg coreutils)"
  done
  if ! err=$(ip netns add "$RUN-check" 2>&1); then
    die "cannot create a network namespace as $(id -un) (uid $(id -u)): ip netns add: $err\nThe region test needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) on a kernel that allows network namespaces."
  fi
  ip netns del "$RUN-check"
}

up_run() {
  local dir=$1 bin=$2 host
  for b in ingest edge; do
    [ -x "$bin/$b" ] || die "$bin/$b is missing: go build -o $bin/ ./cmd/ingest ./cmd/edge"
  done
  check_machine
  mkdir -p "$dir"
  sweep
  trap undo_on_failure EXIT

  ip netns add "$RUN-hub"
  ip -n "$RUN-hub" link set dev lo up
  ip -n "$RUN-hub" link add name br0 type bridge
  ip -n "$RUN-hub" link set dev br0 up
  for host in "${hosts[@]}"; do
    ip netns add "$RUN-$host"
    ip -n "$RUN-hub" link add name "$host" type veth peer name eth0 netns "$RUN-$host"
    ip -n "$RUN-hub" link set dev "$host" master br0 up
    ip -n "$RUN-$host" link set dev lo up
    ip -n "$RUN-$host" addr add "${addr[$host]}/24" dev eth0
    ip -n "$RUN-$host" link set dev eth0 up
  done

  write_configs "$dir"
  spawn ingest0 "$dir/ingest0.log" "$bin/ingest" --config "$dir/ingest.yaml"
  spawn ingest1 "$dir/ingest1.log" "$bin/ingest" --config "$dir/ingest.yaml"
  spawn shield "$dir/shield.log" "$bin/edge" --config "$dir/shield.yaml"
  spawn edge-eu "$dir/edge-eu.log" "$bin/edge" --config "$dir/edge-eu.yaml"
  spawn edge-us "$dir/edge-us.log" "$bin/edge" --config "$dir/edge-us.yaml"
  for host in ingest0 ingest1 shield edge-eu edge-us; do
    wait_ok "$host" http://127.0.0.1:9090/readyz "$host" "$dir/$host.log"
  done

  # The encoders run on the ingest hosts and publish over loopback, so that
  # cutting an ingest's link cuts it off from the edges, as a lost site
  # would be, while its encoder keeps it fed for when the link comes back
  # (ffmpeg does not reconnect by itself). Two patterns and tones tell
  # primary from backup by eye and ear.
  local -A pattern=([ingest0]=testsrc2 [ingest1]=smptebars) tone=([ingest0]=440 [ingest1]=660)
  for host in ingest0 ingest1; do
    spawn "$host" "$dir/encoder-$host.log" ffmpeg -hide_banner -nostdin -loglevel warning -re \
      -f lavfi -i "${pattern[$host]}=size=320x240:rate=25" \
      -f lavfi -i "sine=frequency=${tone[$host]}:sample_rate=44100" \
      -c:v libx264 -preset ultrafast -tune zerolatency -g 25 -pix_fmt yuv420p -b:v 300k \
      -c:a aac -b:a 64k -f flv rtmp://127.0.0.1:1935/live/cam
  done
  for host in ingest0 ingest1; do
    wait_ok "$host" http://127.0.0.1:8080/live/cam.flv "the encoder of $host" "$dir/encoder-$host.log" --head
  done
}

# run_on HOST CMD...: run CMD on HOST at the hosts' priority, bounded by
# the lifetime like every process of the run. timeout passes the signals
# it gets on to CMD, and stays in the foreground for a terminal.
run_on() {
  check_host "$1"
  local host=$1
  shift
  exec ip netns exec "$RUN-$host" nice -n "$priority" timeout --foreground -k 5 "$lifetime" "$@"
}

link() {
  check_host "$2"
  ip -n "$RUN-hub" link set dev "$2" "$1"
}

try_run() {
  command -v go >/dev/null || die "go is needed to build the servers"
  cd "$(dirname "$0")/.."
  check_run "frt$$-try"
  # Global, for the EXIT trap, which runs after try_run has returned.
  dir=$(mktemp -d "${TMPDIR:-/tmp}/flvedge-regiontest.XXXXXX")
  trap 'down_run "$RUN"; rm -rf "$dir"' EXIT
  trap 'exit 130' INT TERM
  echo "== building into $dir/bin"
  go build -o "$dir/bin/" ./cmd/ingest ./cmd/edge ./cmd/bench
  echo "== bringing up $RUN"
  (up_run "$dir" "$dir/bin")
  cat <<EOF
Up: run $RUN, configs and logs in $dir. From another shell, as root:

  # play the EU region (curl on the viewer host, ffplay here)
  $self exec $RUN viewer-eu curl -sN http://${addr[edge-eu]}:8080/live/cam.flv | ffplay -
  # the shield's upstream and metrics
  $self exec $RUN shield curl -s http://127.0.0.1:9090/api/streams
  $self exec $RUN shield curl -s http://127.0.0.1:9090/metrics | grep upstream
  # fifty more viewers in the US region, with a report at the end
  $self exec $RUN viewer-us $dir/bin/bench --url http://${addr[edge-us]}:8080/live/cam.flv --viewers 50 --duration 30s
  # cut the primary ingest off, and plug it back
  $self cut $RUN ingest0
  $self restore $RUN ingest0

Press Enter (or wait ${lifetime} s) to tear it all down.
EOF
  read -r -t "$lifetime" _ || true
}

cmd=${1:-}
case $cmd in
try)
  try_run
  ;;
check)
  [ $# -eq 2 ] || die "usage: $0 check RUN"
  check_run "$2"
  check_machine
  ;;
up)
  [ $# -eq 4 ] || die "usage: $0 up RUN DIR BINDIR"
  check_run "$2"
  up_run "$3" "$4"
  ;;
down)
  [ $# -eq 2 ] || die "usage: $0 down RUN"
  check_run "$2"
  down_run "$RUN"
  ;;
exec)
  [ $# -ge 4 ] || die "usage: $0 exec RUN HOST CMD..."
  check_run "$2"
  shift 2
  run_on "$@"
  ;;
cut | restore)
  [ $# -eq 3 ] || die "usage: $0 $cmd RUN HOST"
  check_run "$2"
  if [ "$cmd" = cut ]; then link down "$3"; else link up "$3"; fi
  ;;
*)
  die "usage: $0 try | check RUN | up RUN DIR BINDIR | exec RUN HOST CMD... | cut RUN HOST | restore RUN HOST | down RUN"
  ;;
esac
