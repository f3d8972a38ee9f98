#!/usr/bin/env bash
# Runs the stan.js (node-nats-streaming) v0.3.2 mocha suite against a NATS
# Streaming server binary:
#
#   tests/streaming_clients/stanjs/run.sh SERVER_BINARY [TEST_FILE...]
#
# TEST_FILE defaults to: basics.js connect.js stan_connect.js
# stan_connection_lost.js (names are looked up in the test directory).
#
# The suite starts its servers itself with child_process.spawn of
# `nats-streaming-server` found on PATH; this script puts first on PATH a
# shim of that name which execs SERVER_BINARY with the same arguments (and
# records each pid so that leftovers are ended at the end).
#
# The upstream test files are not in the repository (see NOTICE): they are
# read from $STANJS_TEST_DIR, default tests/streaming_clients/stanjs/test,
# which get-tests.sh fills. Nothing is fetched from GitHub here; npm packages
# come from the npm registry (npm ci with the committed lock) when
# node_modules is missing.
#
# STANJS_GREP=PATTERN runs only the tests whose title matches (mocha --grep);
# STANJS_SKIP=PATTERN runs all but those (mocha --grep PATTERN --invert).
#
# Prints mocha's spec output, then "stanjs: N passed, N failed" and exits 0
# only when no test failed (1 on failures, 2 on a usage or setup error,
# 124 when the whole run overran STANJS_TIMEOUT seconds, default 600).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 ]] || usage
[[ "$1" == -h || "$1" == --help ]] && usage

SERVER="$1"; shift
if [[ "$SERVER" != */* ]]; then
  SERVER="$(command -v "$SERVER" || true)"
fi
[[ -n "$SERVER" && -x "$SERVER" && ! -d "$SERVER" ]] || { echo "run.sh: server binary not executable: ${1:-$SERVER}" >&2; exit 2; }
SERVER="$(cd "$(dirname "$SERVER")" && pwd)/$(basename "$SERVER")"

TEST_DIR="${STANJS_TEST_DIR:-$HERE/test}"
if [[ $# -gt 0 ]]; then FILES=("$@"); else
  FILES=(basics.js connect.js stan_connect.js stan_connection_lost.js)
fi
for f in "${FILES[@]}" support/stan_server_control.js; do
  if [[ ! -f "$TEST_DIR/$f" ]]; then
    echo "run.sh: missing $TEST_DIR/$f" >&2
    echo "run.sh: fill it with: $HERE/get-tests.sh <stan.js git dir>   (see $HERE/NOTICE)" >&2
    exit 2
  fi
done

command -v node >/dev/null || { echo "run.sh: node not found" >&2; exit 2; }
if [[ ! -x "$HERE/node_modules/.bin/mocha" || ! -d "$HERE/node_modules/node-nats-streaming" ]]; then
  echo "== npm ci (tests/streaming_clients/stanjs)"
  npm ci --prefix "$HERE" --silent --no-audit --no-fund || { echo "run.sh: npm ci failed" >&2; exit 2; }
fi
PKG_VERSION="$(node -p "require('$HERE/node_modules/node-nats-streaming/package.json').version")"
[[ "$PKG_VERSION" == 0.3.2 ]] || { echo "run.sh: node-nats-streaming is $PKG_VERSION, want 0.3.2" >&2; exit 2; }

# Ports the suite binds or expects closed.
busy=()
for p in 1423 9876 6789 6790 6791 6792 22222 22223; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then busy+=("$p"); fi
done
if [[ ${#busy[@]} -gt 0 ]]; then
  echo "run.sh: ports in use (the suite needs them free): ${busy[*]}" >&2
  exit 2
fi

# One directory per run, under .run/ (git-ignored):
#   pkg/   a copy of the installed node-nats-streaming with test/ beside lib/,
#          since the tests require ../lib/stan.js and ../package.json
#   bin/   the nats-streaming-server shim
#   t/     TMPDIR: the suite's file stores (connect.js) live in t/<nuid>, and
#          its -log files land at "<run>/tstan_log_<port>.log" (it joins
#          os.tmpdir() and the file name without a slash)
# Keep the last five runs' directories.
ls -1dt "$HERE"/.run/*/ 2>/dev/null | tail -n +5 | while IFS= read -r d; do rm -rf "$d"; done
RUN="$HERE/.run/$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$RUN/bin" "$RUN/t"
cp -R "$HERE/node_modules/node-nats-streaming" "$RUN/pkg"
rm -rf "$RUN/pkg/test"
cp -R "$TEST_DIR" "$RUN/pkg/test"

cat > "$RUN/bin/nats-streaming-server" <<EOF
#!/bin/sh
# shim written by run.sh: the suite spawns this by name
echo "\$\$ \$*" >> "$RUN/pids"
exec "$SERVER" "\$@"
EOF
chmod +x "$RUN/bin/nats-streaming-server"

cleanup() {
  # End only the servers this run started (pids the shim recorded).
  if [[ -f "$RUN/pids" ]]; then
    while read -r pid _; do
      if kill -0 "$pid" 2>/dev/null; then
        echo "run.sh: ending leftover server pid $pid" >&2
        kill "$pid" 2>/dev/null
      fi
    done < "$RUN/pids"
    sleep 0.5
    while read -r pid _; do
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    done < "$RUN/pids"
  fi
  return 0
}
trap cleanup EXIT

echo "== stan.js v0.3.2 suite: ${FILES[*]}"
echo "== server: $SERVER (shim: $RUN/bin/nats-streaming-server)"
SPEC=()
for f in "${FILES[@]}"; do SPEC+=("test/$f"); done
if [[ -n "${STANJS_GREP:-}" && -n "${STANJS_SKIP:-}" ]]; then
  echo "run.sh: set STANJS_GREP or STANJS_SKIP, not both" >&2; exit 2
fi
[[ -n "${STANJS_GREP:-}" ]] && SPEC=(--grep "$STANJS_GREP" "${SPEC[@]}")
[[ -n "${STANJS_SKIP:-}" ]] && SPEC=(--grep "$STANJS_SKIP" --invert "${SPEC[@]}")

# Same mocha options as upstream's test:unit script (timeout 10 s, slow
# 750 ms) plus --exit as in its Makefile, so a stray handle cannot hang us.
# Mocha is 10.x, not upstream's 7.x: on Node 20, mocha 7 itself crashes
# (TypeError in Runnable#multiple) when a test fails inside an event
# handler, and the rest of the run is lost.
(
  cd "$RUN/pkg" &&
  PATH="$RUN/bin:$PATH" TMPDIR="$RUN/t" NODE_ENV=test \
    timeout --kill-after=10 "${STANJS_TIMEOUT:-600}" \
    "$HERE/node_modules/.bin/mocha" --exit --colors=false --reporter spec \
      --timeout 10000 --slow 750 "${SPEC[@]}"
) 2>&1 | tee "$RUN/mocha.out"
rc=${PIPESTATUS[0]}

passing=$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' "$RUN/mocha.out" | tail -1)
failing=$(sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' "$RUN/mocha.out" | tail -1)
pending=$(sed -n 's/^ *\([0-9][0-9]*\) pending.*/\1/p' "$RUN/mocha.out" | tail -1)
if [[ -z "$passing" && -z "$failing" ]]; then
  # mocha ended without its summary (crashed or was killed): count the marks.
  echo "run.sh: mocha ended without a summary (exit $rc); counting its ✓ and N) lines" >&2
  passing=$(grep -c '✓' "$RUN/mocha.out" || true)
  failing=$(grep -cE '^ +[0-9]+\) ' "$RUN/mocha.out" || true)
  [[ $rc -ne 0 && ${failing:-0} -eq 0 ]] && failing=1
fi
passing=${passing:-0}; failing=${failing:-0}

if [[ $rc -ne 0 || $failing -ne 0 ]]; then
  echo
  echo "== server logs ($RUN/tstan_log_*.log), last lines of each"
  for l in "$RUN"/tstan_log_*.log; do
    [[ -f "$l" ]] || continue
    echo "-- $l"; tail -n 15 "$l"
  done
  [[ -f "$RUN/pids" ]] && echo "== $(wc -l < "$RUN/pids") server processes started; pid and args of each in $RUN/pids"
fi

echo
if [[ $rc -eq 124 || $rc -eq 137 ]]; then
  echo "run.sh: the suite overran ${STANJS_TIMEOUT:-600} s" >&2
  echo "stanjs: $passing passed, $(( failing > 0 ? failing : 1 )) failed"
  exit 124
fi
if [[ -n "$pending" && "$pending" != 0 ]]; then
  echo "stanjs: $passing passed, $failing failed, $pending skipped"
else
  echo "stanjs: $passing passed, $failing failed"
fi
if [[ $rc -ne 0 || $failing -ne 0 || $passing -eq 0 ]]; then
  exit 1
fi
exit 0
