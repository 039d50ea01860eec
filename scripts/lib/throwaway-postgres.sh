# Starting and stopping a throwaway PostgreSQL server, for scripts/with-postgres
# and scripts/with-tls-postgres (sourced, not run). The caller sets NAME (the
# prefix of messages) and calls pg_start, then pg_stop when done.
#
# pg_start makes a directory PG_TMP, runs initdb there (as an unprivileged
# user, PG_TEST_USER or `nobody`, when run as root, since PostgreSQL refuses
# to run as root), lets the caller prepare it through a hook, and starts the
# server on a free port (PG_PORT), from the local binaries. Without them it
# fails, naming what to install (after PG_ALTERNATIVE, another way out).

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() { log "$*"; exit 1; }

# The directory holding initdb and pg_ctl: PATH first, then the usual places.
find_pg_bin() {
    local dir
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /usr/local/pgsql/bin 2>/dev/null | sort -rV); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return
        fi
    done
    return 1
}

free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    return 1
}

# Runs a command in PG_TMP as the server's user, with a clean environment.
pg_run() {
    (cd "$PG_TMP" && "${PG_RUN[@]}" "$@")
}

# pg_start WHAT PREPARE [SERVER OPTIONS...]: initdb, then the function named
# PREPARE (may be `:`), then the server, started with the options given.
pg_start() {
    local what=$1 prepare=$2 bin port run_as=() attempt
    shift 2
    bin=$(find_pg_bin) || die "no PostgreSQL server found: ${PG_ALTERNATIVE:-}install the PostgreSQL server binaries (initdb, pg_ctl), e.g. \`apt-get install postgresql\` \
(Debian/Ubuntu; or a versioned package such as postgresql-15), \`dnf install postgresql-server\`, \
or \`brew install postgresql\`"
    PG_TMP=$(mktemp -d /tmp/eventsource-pg.XXXXXX)
    chmod 755 "$PG_TMP"
    if [[ $(id -u) -eq 0 ]]; then
        # PostgreSQL will not run as root: use an unprivileged account.
        PG_OWNER=${PG_TEST_USER:-nobody}
        id "$PG_OWNER" >/dev/null 2>&1 || die "running as root, but user \`$PG_OWNER\` does not exist (set PG_TEST_USER)"
        if command -v runuser >/dev/null 2>&1; then
            run_as=(runuser -u "$PG_OWNER" --)
        elif command -v setpriv >/dev/null 2>&1; then
            run_as=(setpriv "--reuid=$PG_OWNER" "--regid=$(id -g "$PG_OWNER")" --clear-groups)
        else
            die "running as root and neither runuser nor setpriv is available to drop privileges"
        fi
        chown "$PG_OWNER" "$PG_TMP"
    else
        PG_OWNER=$(id -un)
    fi
    PG_RUN=("${run_as[@]}" env -i PATH="$bin:/usr/bin:/bin" LC_ALL=C HOME="$PG_TMP")
    PG_BIN=$bin
    log "starting a throwaway PostgreSQL ($what) from $bin in $PG_TMP"
    pg_run "$bin/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
        >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log" >&2; die "initdb failed"; }
    "$prepare"
    for attempt in 1 2 3 4 5; do
        port=$(free_port) || die "no free TCP port found"
        # Durability is irrelevant for a server deleted after the run.
        if pg_run "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
            -o "-p $port -k $PG_TMP -c max_connections=200 -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off $*" start >/dev/null; then
            PG_STARTED=1
            PG_PORT=$port
            return
        fi
        log "start on port $port failed (attempt $attempt)"
        tail -n 5 "$PG_TMP/server.log" >&2 || true
    done
    die "could not start PostgreSQL; see $PG_TMP/server.log"
}

pg_stop() {
    if [[ ${PG_STARTED:-0} -eq 1 ]]; then
        pg_run "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 \
            || log "stopping the throwaway server failed"
    fi
    if [[ -n ${PG_TMP:-} ]]; then
        rm -rf "$PG_TMP"
    fi
}
