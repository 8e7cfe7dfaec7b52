#!/usr/bin/env bash
# A private PostgreSQL server for development, tests and CI.
#
#   scripts/postgres.sh up      install PostgreSQL if missing, initialise the cluster, start it, create
#                               the database and roles (idempotent: safe to run again at any point)
#   scripts/postgres.sh down    stop the server (the data stays)
#   scripts/postgres.sh status  print whether it runs, and where
#   scripts/postgres.sh env     print `export` lines for the connection (eval "$(scripts/postgres.sh env)")
#   scripts/postgres.sh database NAME [TEMPLATE]
#                               (re)create database NAME owned by the owner role, empty or as a copy of
#                               database TEMPLATE (tests use it for a private database each)
#   scripts/postgres.sh destroy stop the server and delete the cluster
#
# The cluster lives in the git-ignored folder `.postgres/` of the repository (SEGMENTATION_PG_DIR to
# choose another). It listens on 127.0.0.1 only (SEGMENTATION_PG_PORT, default 5432), accepts password
# logins (scram-sha-256) over TCP, and its Unix socket sits inside the cluster folder, readable only by
# the server's own user. PostgreSQL refuses to run as root: as root the server runs as the `postgres`
# user; if the repository's path is not reachable by that user, `.postgres` becomes a link to a folder
# under /var/tmp that it owns.
#
# Roles (passwords only from the environment; when unset, `up` generates them once and keeps them in
# `.postgres/credentials.env`, mode 600):
#   SEGMENTATION_PG_USER / SEGMENTATION_PG_PASSWORD        owner of the database; dbt and the loader
#   bi_reader            / SEGMENTATION_PG_BI_READER_PASSWORD   read-only BI access (granted by dbt)
#   reverse_etl          / SEGMENTATION_PG_REVERSE_ETL_PASSWORD reads activation tables (granted by dbt)
#
# This cluster is tuned for throwaway development data (fsync and synchronous commit off): never point
# it at data you cannot rebuild.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_LINK="${SEGMENTATION_PG_DIR:-$REPO/.postgres}"
PORT="${SEGMENTATION_PG_PORT:-5432}"
DBNAME="${SEGMENTATION_PG_DBNAME:-segmentation}"
OWNER="${SEGMENTATION_PG_USER:-segmentation}"
SERVER_USER="$(id -un)"
[[ "$(id -u)" == 0 ]] && SERVER_USER=postgres

log() { echo "postgres: $*" >&2; }
die() { echo "postgres: error: $*" >&2; exit 1; }

find_bindir() {
    local candidate
    if command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
        pg_config --bindir
        return
    fi
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x "$candidate/initdb" ]] && { echo "$candidate"; return; }
    done
}

install_postgres() {
    [[ -n "$(find_bindir)" ]] && return
    [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed and installing it needs root: run 'sudo apt-get update && sudo apt-get install -y postgresql'"
    # Two test workers may start their clusters at once: one installs, the other waits, then finds it.
    local lock
    exec {lock}>/var/lock/segmentation-postgres-install.lock
    flock "$lock"
    [[ -n "$(find_bindir)" ]] && return
    log "installing PostgreSQL (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    # The Debian package starts its own cluster on 5432; ours is separate, so stop that one.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters --no-header 2>/dev/null | while read -r version name _; do
            pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
        done
    fi
    [[ -n "$(find_bindir)" ]] || die "apt-get installed postgresql but no initdb was found under /usr/lib/postgresql"
}

as_server() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The folder the server owns. As root, it must be reachable by the postgres user.
data_dir() {
    if [[ -L "$PG_LINK" ]]; then
        readlink -f "$PG_LINK"
    else
        echo "$PG_LINK"
    fi
}

prepare_dir() {
    [[ -e "$PG_LINK" ]] && return
    if [[ "$(id -u)" == 0 ]]; then
        mkdir -p "$PG_LINK"
        chown postgres:postgres "$PG_LINK"
        if ! runuser -u postgres -- test -w "$PG_LINK"; then
            rmdir "$PG_LINK"
            local elsewhere
            elsewhere="/var/tmp/segmentation-postgres-$(echo -n "$PG_LINK" | sha256sum | cut -c1-12)"
            mkdir -p "$elsewhere"
            chown postgres:postgres "$elsewhere"
            ln -s "$elsewhere" "$PG_LINK"
            log "$PG_LINK is not reachable by the postgres user: the cluster lives in $elsewhere"
        fi
    else
        mkdir -p "$PG_LINK"
    fi
    chmod 700 "$(data_dir)"
}

credentials_file() { echo "$(data_dir)/credentials.env"; }

# Fill unset passwords from the credentials file, generating missing ones once.
load_credentials() {
    local file
    file="$(credentials_file)"
    if [[ -f "$file" ]]; then
        # shellcheck disable=SC1090
        source <(sed -n 's/^\(SEGMENTATION_PG_[A-Z_]*PASSWORD\)=\(.*\)$/: "${\1:=\2}"/p' "$file")
    fi
    local name changed=0
    for name in SEGMENTATION_PG_PASSWORD SEGMENTATION_PG_BI_READER_PASSWORD SEGMENTATION_PG_REVERSE_ETL_PASSWORD; do
        if [[ -z "${!name:-}" ]]; then
            printf -v "$name" '%s' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
            changed=1
        fi
        export "${name?}"
    done
    if [[ "$changed" == 1 || ! -f "$file" ]]; then
        local old_umask
        old_umask="$(umask)"
        umask 077
        {
            echo "SEGMENTATION_PG_PASSWORD=$SEGMENTATION_PG_PASSWORD"
            echo "SEGMENTATION_PG_BI_READER_PASSWORD=$SEGMENTATION_PG_BI_READER_PASSWORD"
            echo "SEGMENTATION_PG_REVERSE_ETL_PASSWORD=$SEGMENTATION_PG_REVERSE_ETL_PASSWORD"
        } >"$file"
        [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$file"
        chmod 600 "$file"
        umask "$old_umask"
    fi
}

cluster_dir() { echo "$(data_dir)/cluster"; }

init_cluster() {
    local bindir cluster
    bindir="$(find_bindir)"
    cluster="$(cluster_dir)"
    [[ -f "$cluster/PG_VERSION" ]] && return
    log "initialising a cluster in $cluster"
    as_server "$bindir/initdb" --pgdata="$cluster" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    cat >>"$cluster/postgresql.conf" <<EOF

# segmentation development cluster (scripts/postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$cluster'
unix_socket_permissions = 0700
password_encryption = scram-sha-256
max_connections = 100
shared_buffers = 256MB
work_mem = 32MB
maintenance_work_mem = 256MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    # Only loopback TCP with passwords, and the private socket.
    cat >"$cluster/pg_hba.conf" <<EOF
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
EOF
}

is_running() {
    local bindir
    bindir="$(find_bindir)"
    [[ -n "$bindir" && -f "$(cluster_dir)/PG_VERSION" ]] && as_server "$bindir/pg_ctl" -D "$(cluster_dir)" status >/dev/null 2>&1
}

start_server() {
    local bindir cluster
    bindir="$(find_bindir)"
    cluster="$(cluster_dir)"
    if is_running; then
        local running_port
        running_port="$(sed -n 4p "$cluster/postmaster.pid")"
        [[ "$running_port" == "$PORT" ]] || die "the cluster in $cluster already runs on port $running_port, not $PORT; run '$0 down' first"
        return
    fi
    log "starting on 127.0.0.1:$PORT"
    as_server "$bindir/pg_ctl" -D "$cluster" -l "$cluster/server.log" -o "-p $PORT" -w -t 60 start >/dev/null \
        || die "the server did not start; see $cluster/server.log: $(tail -n 5 "$cluster/server.log" 2>/dev/null)"
}

psql_admin() {
    local bindir
    bindir="$(find_bindir)"
    PGOPTIONS="-c client_min_messages=warning" as_server "$bindir/psql" -h "$(cluster_dir)" -p "$PORT" -U postgres \
        -X -q -o /dev/null -v ON_ERROR_STOP=1 "$@"
}

# Create or update a login role; the password is passed as a psql variable, never in the command line.
ensure_role() {
    local role="$1" password="$2"
    psql_admin -d postgres -v role="$role" -v password="$password" <<'SQL'
select format('create role %I login', :'role')
where not exists (select from pg_roles where rolname = :'role')
\gexec
alter role :"role" with login nosuperuser nocreatedb nocreaterole password :'password';
SQL
}

setup_roles() {
    ensure_role "$OWNER" "$SEGMENTATION_PG_PASSWORD"
    ensure_role bi_reader "$SEGMENTATION_PG_BI_READER_PASSWORD"
    ensure_role reverse_etl "$SEGMENTATION_PG_REVERSE_ETL_PASSWORD"
}

# Create database $1 when missing; with $2, drop it first and copy database $2 (a template).
setup_database() {
    local db="$1" template="${2:-}"
    if [[ -n "$template" ]]; then
        psql_admin -d postgres -v db="$db" -v template="$template" -v owner="$OWNER" <<'SQL'
select pg_terminate_backend(pid) from pg_stat_activity where datname in (:'db', :'template') and pid <> pg_backend_pid();
drop database if exists :"db";
create database :"db" owner :"owner" template :"template";
SQL
    else
        psql_admin -d postgres -v db="$db" -v owner="$OWNER" <<'SQL'
select format('create database %I owner %I', :'db', :'owner')
where not exists (select from pg_database where datname = :'db')
\gexec
SQL
    fi
    # Readers connect but create nothing; what they may read is granted by dbt (grants in dbt_project.yml).
    psql_admin -d "$db" -v db="$db" -v owner="$OWNER" <<'SQL'
revoke all on database :"db" from public;
grant connect on database :"db" to :"owner", bi_reader, reverse_etl;
grant create, temporary on database :"db" to :"owner";
revoke create on schema public from public;
alter schema public owner to :"owner";
SQL
}

print_env() {
    load_credentials
    cat <<EOF
export SEGMENTATION_PG_HOST=127.0.0.1
export SEGMENTATION_PG_PORT=$PORT
export SEGMENTATION_PG_DBNAME=$DBNAME
export SEGMENTATION_PG_USER=$OWNER
export SEGMENTATION_PG_PASSWORD=$SEGMENTATION_PG_PASSWORD
export SEGMENTATION_PG_BI_READER_PASSWORD=$SEGMENTATION_PG_BI_READER_PASSWORD
export SEGMENTATION_PG_REVERSE_ETL_PASSWORD=$SEGMENTATION_PG_REVERSE_ETL_PASSWORD
EOF
}

command="${1:-}"
case "$command" in
    up)
        install_postgres
        prepare_dir
        load_credentials
        init_cluster
        start_server
        setup_roles
        setup_database "$DBNAME"
        log "ready: database $DBNAME on 127.0.0.1:$PORT (eval \"\$($0 env)\" for the connection variables)"
        ;;
    down)
        if is_running; then
            as_server "$(find_bindir)/pg_ctl" -D "$(cluster_dir)" -m fast -w stop >/dev/null
            log "stopped"
        else
            log "not running"
        fi
        ;;
    status)
        if is_running; then
            echo "running: $(cluster_dir) on 127.0.0.1:$(sed -n 4p "$(cluster_dir)/postmaster.pid")"
        else
            echo "not running ($(cluster_dir))"
            exit 3
        fi
        ;;
    env)
        [[ -e "$PG_LINK" ]] || die "no cluster yet: run '$0 up' first"
        print_env
        ;;
    database)
        [[ -n "${2:-}" ]] || die "usage: $0 database NAME [TEMPLATE]"
        is_running || die "the server is not running: run '$0 up' first"
        setup_database "$2" "${3:-}"
        log "database $2 ready${3:+ (a copy of $3)}"
        ;;
    destroy)
        if is_running; then
            as_server "$(find_bindir)/pg_ctl" -D "$(cluster_dir)" -m fast -w stop >/dev/null
        fi
        target="$(data_dir)"
        [[ -L "$PG_LINK" ]] && rm -f "$PG_LINK"
        rm -rf "$target"
        log "deleted $target"
        ;;
    *)
        echo "usage: $0 up|down|status|env|destroy" >&2
        exit 2
        ;;
esac
