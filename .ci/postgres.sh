#!/usr/bin/env bash
# A private PostgreSQL cluster for the SQL store's tests
# (src/streaming/store/sql.rs reads its DSN from RNATS_TEST_POSTGRES).
#
#   export RNATS_TEST_POSTGRES="$(.ci/postgres.sh)"   # install if missing, start, print the DSN
#   .ci/postgres.sh stop                              # stop it
#
# Only the DSN goes to stdout (it is also written to $DIR/dsn); progress goes
# to stderr. Idempotent: a running cluster is reused. Installs Debian's
# `postgresql` when initdb is missing. As root it runs the server as the
# `postgres` user (initdb refuses root), in a directory that user owns.
#
# Settings (environment): RNATS_PG_PORT (55432), RNATS_PG_DIR
# (${TMPDIR:-/tmp}/rnats-pg-<port>). The cluster trusts local connections
# and listens on 127.0.0.1 only; fsync is off: it is for tests.
set -euo pipefail

PORT="${RNATS_PG_PORT:-55432}"
DIR="${RNATS_PG_DIR:-${TMPDIR:-/tmp}/rnats-pg-$PORT}"
DATA="$DIR/data"
DB=rnats_test
SUPERUSER=rnats
DSN="postgres://$SUPERUSER@127.0.0.1:$PORT/$DB?sslmode=disable"

log() { echo "postgres.sh: $*" >&2; }

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then
    echo "$d"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

install_postgres() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL is not installed and cannot be installed here (needs root and apt-get)"
    exit 1
  fi
  log "installing postgresql"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

# Runs a command as the cluster's owner, from a directory it can read.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

BIN="$(bindir)"
if [ -z "$BIN" ]; then
  install_postgres
  BIN="$(bindir)"
fi
[ -n "$BIN" ] || { log "initdb not found after installing postgresql"; exit 1; }

if [ "${1:-}" = stop ]; then
  if [ -f "$DATA/postmaster.pid" ]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
  fi
  exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "creating a cluster in $DATA"
  mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$DIR"
  fi
  chmod 700 "$DIR"
  as_owner "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust -E UTF8 --no-locale >/dev/null
fi

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "starting PostgreSQL on 127.0.0.1:$PORT"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >&2 || { log "the server did not start; its log:"; cat "$DIR/server.log" >&2; exit 1; }
fi

psql_() { as_owner "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -X -q -t -A "$@"; }
if [ "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
  psql_ -d postgres -c "CREATE DATABASE $DB" >&2
fi

echo "$DSN" | tee "$DIR/dsn"
