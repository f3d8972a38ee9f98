#!/usr/bin/env bash
# Fan-out through an account feature, two servers side by side.
#
#   tools/rnats-bench/side-by-side.sh SCENARIO CANDIDATE REFERENCE [ROUNDS] [MSGS] [SUBS]
#
# SCENARIO is one of:
#   import-fanout  account A exports `bench.>`, account B imports it with
#                  prefix `imp`; the subscribers in B listen on `imp.bench.x`,
#                  the publisher in A publishes on `bench.x`, so every message
#                  crosses the import once.
#   mapping        the global account maps `bench.*` to
#                  `mapped.{{partition(8,1)}}.$1`; the subscribers listen on
#                  `mapped.*.x`, so every message is renamed once.
#
# One publisher sends MSGS messages of 128 bytes, each delivered SUBS times.
# Both servers get the same config and run alternately (reference first in
# each round), each fresh per round; the script prints the subscribers'
# aggregate msgs/s of every run, the medians and the ratio
# candidate/reference.
#
# Needs a release build of rnats-bench (cargo build --release).
set -euo pipefail

scenario=${1:?scenario: import-fanout or mapping}
cand=${2:?candidate server binary}
ref=${3:?reference server binary}
rounds=${4:-5}
msgs=${5:-500000}
subs=${6:-4}
case $scenario in
import-fanout)
    sub_auth=(--user b --password b) pub_auth=(--user a --password a)
    sub_subject=imp.bench.x
    ;;
mapping)
    sub_auth=() pub_auth=()
    sub_subject='mapped.*.x'
    ;;
*) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
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
    {
        echo "listen: 127.0.0.1:$port"
        case $scenario in
        import-fanout)
            cat <<'EOF'
accounts {
  A: { users: [{user: a, password: a}], exports: [{stream: "bench.>"}] }
  B: { users: [{user: b, password: b}],
       imports: [{stream: {account: A, subject: "bench.>"}, prefix: imp}] }
}
EOF
            ;;
        mapping)
            cat <<'EOF'
mappings { "bench.*": "mapped.{{partition(8,1)}}.$1" }
EOF
            ;;
        esac
    } >"$work/server.conf"
    "$bin" -c "$work/server.conf" >"$work/server.log" 2>&1 &
    local pid=$!
    for _ in $(seq 50); do
        (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
        sleep 0.1
    done
    local url=nats://127.0.0.1:$port
    "$bench" -s "$url" "${sub_auth[@]}" sub "$sub_subject" \
        --clients "$subs" --msgs "$msgs" --max-time 60s --no-progress >"$work/sub.out" 2>&1 &
    local sub=$!
    sleep 1
    "$bench" -s "$url" "${pub_auth[@]}" pub bench.x \
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
echo "$scenario-$subs: reference median $mr msgs/s, candidate median $mc msgs/s," \
    "ratio $(awk -v c="$mc" -v r="$mr" 'BEGIN {printf "%.2f", c / r}')"
