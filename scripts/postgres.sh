#!/usr/bin/env bash
# Throwaway PostgreSQL 15 for tests and benchmarks: `source scripts/postgres.sh; pg_throwaway_start`
# starts a server on a Unix socket in a temporary directory (no TCP port) and exports
# PINGROLL_TEST_POSTGRES_URL, PINGROLL_TEST_PGDATA and PINGROLL_TEST_PGCTL; pg_throwaway_stop
# stops it and removes the directory. initdb and pg_ctl refuse to run as root, so they run as
# the postgres user.

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$dir" ] || { echo "postgres: no server binaries under /usr/lib/postgresql" >&2; return 1; }
  echo "$dir"
}

pg_as_postgres() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_throwaway_start() {
  local bin
  bin=$(pg_bindir) || return 1
  PG_THROWAWAY_DIR=$(mktemp -d /tmp/pingroll-pg.XXXXXX)
  chmod 755 "$PG_THROWAWAY_DIR"
  [ "$(id -u)" = "0" ] && chown postgres:postgres "$PG_THROWAWAY_DIR"
  pg_as_postgres "$bin/initdb" -D "$PG_THROWAWAY_DIR/data" -A trust -U postgres --no-sync >"$PG_THROWAWAY_DIR/initdb.log" 2>&1 \
    || { cat "$PG_THROWAWAY_DIR/initdb.log" >&2; return 1; }
  # In the configuration file, so that a plain `pg_ctl start` (tests restart the server) uses it too.
  cat >>"$PG_THROWAWAY_DIR/data/postgresql.conf" <<CONF
unix_socket_directories = '$PG_THROWAWAY_DIR'
listen_addresses = ''
max_connections = 200
shared_buffers = 256MB
CONF
  pg_as_postgres "$bin/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -l "$PG_THROWAWAY_DIR/server.log" -w start >/dev/null \
    || { cat "$PG_THROWAWAY_DIR/server.log" >&2; return 1; }
  pg_as_postgres "$bin/createdb" -h "$PG_THROWAWAY_DIR" -U postgres pingroll_test
  export PINGROLL_TEST_POSTGRES_URL="postgresql:///pingroll_test?host=$PG_THROWAWAY_DIR&user=postgres"
  export PINGROLL_TEST_PGDATA="$PG_THROWAWAY_DIR/data"
  export PINGROLL_TEST_PGCTL="$bin/pg_ctl"
  echo "postgres: throwaway server on $PG_THROWAWAY_DIR" >&2
}

pg_throwaway_stop() {
  [ -n "${PG_THROWAWAY_DIR:-}" ] || return 0
  local bin
  bin=$(pg_bindir) || return 0
  pg_as_postgres "$bin/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_THROWAWAY_DIR"
  PG_THROWAWAY_DIR=""
}
