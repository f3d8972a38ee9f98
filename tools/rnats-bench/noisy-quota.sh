#!/usr/bin/env bash
# Account B's request/reply while account A floods, with a rate quota on A:
# the shared benchmark's noisy-reqrep scenario (B alone with server and load
# generator on one CPU, then B while A floods with 2 publishers into 4
# subscribers, unpinned), on a config that limits A.
#
#   tools/rnats-bench/noisy-quota.sh SERVER NATSLOAD [MSGS_PER_SEC] [ROUNDS]
#
# NATSLOAD is the shared benchmark's load generator (its `compare` builds it
# under shared/bench/loadgen/target/release/, or under
# ~/.cache/nats-bench-loadgen/target/release/ when that folder is
# read-only). Prints, per round, B's p50
# and p99 alone and under the flood, their ratio, A's delivered msgs/s and
# B's req/s; then B alone unpinned, on the flood run's server just before the
# flood, and the flood's ratio to that (same placement freedom: what the
# flood itself costs, without the machine's cross-CPU wake-up cost).
set -euo pipefail
BIN=${1:?server binary}
NL=${2:?natsload binary}
RATE=${3:-100000}
ROUNDS=${4:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/q.conf" <<CONF
host: "127.0.0.1"
accounts {
  A: { users: [ { user: "a", password: "apw" } ], limits: { msgs_per_sec: $RATE, burst: "100ms" } }
  B: { users: [ { user: "b", password: "bpw" } ] }
}
CONF
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
B=(--scenario reqrep --requesters 1 --size 16 --msgs 20000 --user b --pass bpw)
for _ in $(seq "$ROUNDS"); do
  p1=$(free_port); p2=$(free_port)
  taskset -c 0 "$BIN" -c "$dir/q.conf" -p "$p1" >/dev/null 2>&1 & s1=$!
  "$BIN" -c "$dir/q.conf" -p "$p2" >/dev/null 2>&1 & s2=$!
  sleep 0.5
  alone=$(taskset -c 0 "$NL" -p "$p1" "${B[@]}")
  free=$("$NL" -p "$p2" "${B[@]}")
  flood=$("$NL" -p "$p2" "${B[@]}" --flood-pubs 2 --flood-subs 4 --flood-user a --flood-pass apw)
  kill "$s1" "$s2"; wait "$s1" "$s2" 2>/dev/null || true
  python3 - "$alone" "$flood" "$free" <<'PY'
import json, sys
a, f, u = (json.loads(x) for x in sys.argv[1:4])
print(f"B p50 alone {a['p50_us']:.1f} us, flood {f['p50_us']:.1f} us ({f['p50_us']/a['p50_us']:.2f}x); "
      f"p99 alone {a['p99_us']:.1f} us, flood {f['p99_us']:.1f} us ({f['p99_us']/a['p99_us']:.2f}x); "
      f"A {f.get('flood_msgs_per_sec', 0)/1e6:.2f}M msgs/s; B {f['msgs_per_sec']:.0f} req/s; "
      f"B alone unpinned p50 {u['p50_us']:.1f} us, p99 {u['p99_us']:.1f} us "
      f"(flood/unpinned p50 {f['p50_us']/u['p50_us']:.2f}x, p99 {f['p99_us']/u['p99_us']:.2f}x)")
PY
done
