#!/usr/bin/env bash
# The private PostgreSQL cluster that `make run`, `make test` and `make bench` use when no
# DATABASE_URL is given: installed from Debian's packages when missing, kept under .data/ in
# the project folder, run by an unprivileged user (PostgreSQL refuses root), listening only on
# 127.0.0.1 at a port of its own, with password authentication.
#
#   scripts/dev-db.sh start   install if needed, initialise once, start, create roles and db;
#                             writes .data/env (the URLs below) and prints nothing else of note
#   scripts/dev-db.sh stop    stop the cluster if it runs
#   scripts/dev-db.sh status
#
# .data/env defines:
#   DATABASE_URL                  the server's login (member of spona_app: SELECT + append only)
#   SPONA_OWNER_DATABASE_URL  the owner of the database (runs migrations)
#   SPONA_ADMIN_DATABASE_URL      the cluster's superuser (tests create scratch databases)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# SPONA_PG_DATA puts a second cluster elsewhere (the restore tests start one).
data="${SPONA_PG_DATA:-$root/.data}"
port="${SPONA_PG_PORT:-54329}"
os_user="${SPONA_PG_OS_USER:-spona-pg}"
database="${SPONA_PG_DATABASE:-spona}"

log() { echo "dev-db: $*" >&2; }

pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

install_postgres() {
    if pg_bindir >/dev/null && command -v psql >/dev/null && [ -f /usr/include/postgresql/libpq-fe.h ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "PostgreSQL is not installed and this is not root: install postgresql and libpq-dev, or set DATABASE_URL."
        exit 1
    fi
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib libpq-dev >/dev/null
    # Debian's package starts a system cluster of its own; ours is separate and needs none of it.
}

# Runs a command as the cluster's owner: root hands it to an unprivileged system user.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$os_user" -- "$@"
    else
        "$@"
    fi
}

prepare_os_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id "$os_user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$os_user"
    fi
}

# The cluster's own folder. It lives in .data/ unless the unprivileged user cannot reach the
# project folder (a checkout under /root, say); then it lives in /var/tmp and .data/ links to it.
cluster_dir() {
    mkdir -p "$data"
    if [ -L "$data/pg" ] || [ -d "$data/pg" ]; then
        echo "$data/pg"; return 0
    fi
    if [ "$(id -u)" -eq 0 ] && ! runuser -u "$os_user" -- test -x "$data"; then
        local elsewhere="/var/tmp/spona-pg-$(echo -n "$root" | sha256sum | cut -c1-12)"
        mkdir -p "$elsewhere"
        ln -s "$elsewhere" "$data/pg"
    else
        mkdir -p "$data/pg"
    fi
    echo "$data/pg"
}

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start() {
    install_postgres
    prepare_os_user
    local bindir dir
    bindir=$(pg_bindir)
    dir=$(cluster_dir)
    local pgdata="$dir/cluster" run="$dir/run"
    if [ "$(id -u)" -eq 0 ]; then chown "$os_user" "$dir"; chmod 700 "$dir"; fi

    if [ ! -f "$data/secrets" ]; then
        umask 077
        {
            echo "superuser_password=$(random_secret)"
            echo "owner_password=$(random_secret)"
            echo "server_password=$(random_secret)"
        } >"$data/secrets"
    fi
    # shellcheck disable=SC1091
    . "$data/secrets"

    if [ ! -f "$pgdata/PG_VERSION" ]; then
        log "initialising a private cluster in $pgdata"
        local pwfile="$dir/.pwfile"
        echo "$superuser_password" >"$pwfile"
        [ "$(id -u)" -ne 0 ] || chown "$os_user" "$pwfile"
        chmod 600 "$pwfile"
        as_owner "$bindir/initdb" -D "$pgdata" -U postgres --pwfile="$pwfile" \
            --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
        rm -f "$pwfile"
        as_owner mkdir -p "$run"
        cat >>"$pgdata/postgresql.conf" <<EOF
# Spona's private development and test cluster.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$run'
max_connections = 500
shared_buffers = 256MB
fsync = on
synchronous_commit = on
EOF
        # Settings of a cluster the tests start for themselves (a WAL archive, say), one a line.
        if [ -n "${SPONA_PG_EXTRA_CONF:-}" ]; then printf '%s\n' "$SPONA_PG_EXTRA_CONF" >>"$pgdata/postgresql.conf"; fi
    fi

    if ! as_owner "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        log "starting PostgreSQL on 127.0.0.1:$port"
        # The server would inherit every descriptor this script was given beyond 0-2 (a test
        # runner's pipes, say) and hold it for its lifetime: the caller would wait for ever.
        local fd
        for fd in /proc/$$/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 60 -o "-c max_connections=500" start >/dev/null
    fi

    local su="postgresql://postgres:$superuser_password@127.0.0.1:$port"
    PGPASSWORD="$superuser_password" psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres >/dev/null <<EOF
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spona_owner') THEN
        CREATE ROLE spona_owner LOGIN CREATEDB CREATEROLE PASSWORD '$owner_password';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spona_app') THEN
        CREATE ROLE spona_app NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'spona_server') THEN
        CREATE ROLE spona_server LOGIN PASSWORD '$server_password' IN ROLE spona_app;
    END IF;
    -- To name whatever transaction holds the read horizon back, in any database of the cluster.
    IF NOT pg_has_role('spona_server', 'pg_read_all_stats', 'MEMBER') THEN
        GRANT pg_read_all_stats TO spona_server;
    END IF;
END
\$\$;
SELECT 'CREATE DATABASE $database OWNER spona_owner'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$database') \gexec
EOF

    umask 077
    cat >"$data/env" <<EOF
export DATABASE_URL='postgresql://spona_server:$server_password@127.0.0.1:$port/$database?sslmode=disable'
export SPONA_OWNER_DATABASE_URL='postgresql://spona_owner:$owner_password@127.0.0.1:$port/$database?sslmode=disable'
export SPONA_ADMIN_DATABASE_URL='$su/postgres?sslmode=disable'
export SPONA_PG_BINDIR='$bindir'
EOF
}

stop() {
    local bindir pgdata="$data/pg/cluster"
    [ -f "$pgdata/PG_VERSION" ] || return 0
    bindir=$(pg_bindir) || return 0
    if as_owner "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        log "stopping PostgreSQL"
        as_owner "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null
    fi
}

status() {
    local bindir pgdata="$data/pg/cluster"
    bindir=$(pg_bindir) || { echo "PostgreSQL is not installed"; return 1; }
    as_owner "$bindir/pg_ctl" -D "$pgdata" status
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
