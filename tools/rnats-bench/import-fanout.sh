#!/usr/bin/env bash
# Fan-out across a stream import, two servers side by side.
#
#   tools/rnats-bench/import-fanout.sh CANDIDATE REFERENCE [ROUNDS] [MSGS] [SUBS]
#
# Both servers get the same config: account A exports `bench.>`, account B
# imports it with prefix `imp`. SUBS subscribers in B listen on
# `imp.bench.x`; one publisher in A publishes MSGS messages of 128 bytes on
# `bench.x`. Every message crosses the import once and is delivered SUBS
# times. The servers run alternately (reference first in each round), each
# fresh per round; the script prints the subscribers' aggregate msgs/s of
# every run, the medians and the ratio candidate/reference.
#
# Needs a release build of rnats-bench (cargo build --release).
set -euo pipefail

cand=${1:?candidate server binary}
ref=${2:?reference server binary}
rounds=${3:-5}
msgs=${4:-500000}
subs=${5:-4}
here=$(cd "$(dirname "$0")/../.." && pwd)
bench=${RNATS_BENCH:-$here/target/release/rnats-bench}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# One measured run against BINARY; prints the aggregate subscriber msgs/s.
run() {
    local bin=$1 port
    port=$(free_port)
    cat >"$work/server.conf" <<EOF
listen: 127.0.0.1:$port
accounts {
  A: { users: [{user: a, password: a}], exports: [{stream: "bench.>"}] }
  B: { users: [{user: b, password: b}],
       imports: [{stream: {account: A, subject: "bench.>"}, prefix: imp}] }
}
EOF
    "$bin" -c "$work/server.conf" >"$work/server.log" 2>&1 &
    local pid=$!
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
        sleep 0.1
    done
    local url=nats://127.0.0.1:$port
    "$bench" -s "$url" --user b --password b sub imp.bench.x \
        --clients "$subs" --msgs "$msgs" --max-time 60s --no-progress >"$work/sub.out" 2>&1 &
    local sub=$!
    sleep 1
    "$bench" -s "$url" --user a --password a pub bench.x \
        --msgs "$msgs" --max-time 60s --no-progress >"$work/pub.out" 2>&1
    wait "$sub" || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sed -n 's/^NATS Sub stats: \([0-9,]*\) msgs\/sec.*/\1/p' "$work/sub.out" | tr -d ,
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$work/ref" && : >"$work/cand"
for r in $(seq "$rounds"); do
    a=$(run "$ref")
    b=$(run "$cand")
    echo "round $r: reference ${a:-failed} msgs/s, candidate ${b:-failed} msgs/s"
    [ -n "$a" ] && echo "$a" >>"$work/ref"
    [ -n "$b" ] && echo "$b" >>"$work/cand"
done
mr=$(median <"$work/ref")
mc=$(median <"$work/cand")
echo "import-fanout-$subs: reference median $mr msgs/s, candidate median $mc msgs/s," \
    "ratio $(awk -v c="$mc" -v r="$mr" 'BEGIN {printf "%.2f", c / r}')"
