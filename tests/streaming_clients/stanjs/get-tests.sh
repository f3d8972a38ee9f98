#!/usr/bin/env bash
# Copies the stan.js v0.3.2 test files that run.sh needs out of a git clone
# of nats-io/stan.js into tests/streaming_clients/stanjs/test/ (git-ignored,
# see NOTICE), checking that the tag is the 0.3.2 release commit.
#
#   tests/streaming_clients/stanjs/get-tests.sh STANJS_GIT_DIR [DEST]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
GIT_DIR_ARG="${1:?usage: get-tests.sh STANJS_GIT_DIR [DEST]}"
DEST="${2:-$HERE/test}"
TAG=v0.3.2
COMMIT=82295b086b49c5d844355ac56b3a95dc5030d6e6
got="$(git -C "$GIT_DIR_ARG" rev-parse "$TAG^{commit}")"
[[ "$got" == "$COMMIT" ]] || { echo "get-tests.sh: $TAG is $got, want $COMMIT" >&2; exit 1; }
mkdir -p "$DEST/support"
for f in test/basics.js test/connect.js test/stan_connect.js test/stan_connection_lost.js \
         test/support/stan_server_control.js test/support/sleep.js; do
  git -C "$GIT_DIR_ARG" show "$COMMIT:$f" > "$DEST/${f#test/}"
done
git -C "$GIT_DIR_ARG" show "$COMMIT:LICENSE" > "$DEST/LICENSE"
printf 'Copied from nats-io/stan.js tag %s (commit %s), test/ and LICENSE; Apache-2.0, (c) The NATS Authors.\n' \
  "$TAG" "$COMMIT" > "$DEST/NOTICE"
echo "get-tests.sh: wrote $(ls "$DEST"/*.js "$DEST"/support/*.js | wc -l) files to $DEST"
