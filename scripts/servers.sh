# shellcheck shell=bash
#
# Start and stop the servers PageNow needs (PostgreSQL and NATS with JetStream) on loopback,
# with their data in a folder of the caller's choosing. Sourced by scripts/dev and scripts/test;
# it defines functions only and changes no shell options of its caller.
#
# Everything here must work on a fresh Debian machine and when run as root (CI runs as root):
# PostgreSQL refuses to run as root, so as root its commands run as the `postgres` OS user.
#
# Functions:
#   ensure_postgres_installed   install Debian's postgresql if needed; exports PG_BIN
#   ensure_nats_installed       install Debian's nats-server if needed; exports NATS_SERVER_BIN
#   free_port                   print a free TCP port on 127.0.0.1
#   port_is_free PORT           succeed if nothing listens on 127.0.0.1:PORT
#   start_postgres DIR PORT     initialise (once) and start; exports DATABASE_URL
#   stop_postgres DIR           stop the server whose data is in DIR/data (fine if not running)
#   start_nats DIR PORT         start nats-server with JetStream; exports NATS_URL
#   stop_nats DIR               stop the nats-server started by start_nats DIR (fine if not running)

# Polling bound shared by every wait below: 300 × 0.1 s = 30 s.
_SERVERS_POLL_TRIES=300

_servers_log() { printf '[servers] %s\n' "$*" >&2; }
_servers_die() {
    printf '[servers] error: %s\n' "$*" >&2
    return 1
}

_servers_is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Run a command as root: directly when we are root, else with sudo when it exists.
_servers_as_root() {
    if _servers_is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        _servers_die "need root or sudo to run: $*"
    fi
}

# apt-get install; the package lists are refreshed once per shell.
_servers_apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        _servers_die "apt-get not found: install $* with your system's package manager" || return 1
    _servers_log "installing $* with apt-get"
    if [[ -z "${_SERVERS_APT_UPDATED:-}" ]]; then
        _servers_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 ||
            _servers_die "apt-get update failed" || return 1
        _SERVERS_APT_UPDATED=1
    fi
    _servers_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 ||
        _servers_die "apt-get install $* failed"
}

# Newest /usr/lib/postgresql/<ver>/bin that has initdb, or nothing.
_servers_newest_pg_bin() {
    local f
    local -a found=()
    for f in /usr/lib/postgresql/*/bin/initdb; do
        if [[ -x "$f" ]]; then found+=("$f"); fi
    done
    ((${#found[@]} > 0)) || return 1
    # sort -V so that 9.6 < 15 < 16.
    dirname "$(printf '%s\n' "${found[@]}" | sort -V | tail -n 1)"
}

ensure_postgres_installed() {
    # An explicit PG_BIN wins, so a machine with PostgreSQL elsewhere can still be used.
    if [[ -n "${PG_BIN:-}" && -x "${PG_BIN}/initdb" ]]; then
        export PG_BIN
        return 0
    fi
    if [[ -z "$(_servers_newest_pg_bin)" ]]; then
        # Debian's package would otherwise create and start a system-wide cluster on port 5432,
        # a server nobody asked for. Install postgresql-common first and switch that off, as the
        # official postgres image does; our servers are created by start_postgres.
        _servers_apt_install postgresql-common || return 1
        if [[ -f /etc/postgresql-common/createcluster.conf ]]; then
            _servers_as_root sed -ri 's/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/' \
                /etc/postgresql-common/createcluster.conf || return 1
        fi
        _servers_apt_install postgresql || return 1
    fi
    PG_BIN=$(_servers_newest_pg_bin) ||
        _servers_die "no /usr/lib/postgresql/*/bin/initdb even after installing postgresql" || return 1
    export PG_BIN
}

ensure_nats_installed() {
    if [[ -n "${NATS_SERVER_BIN:-}" && -x "${NATS_SERVER_BIN}" ]]; then
        export NATS_SERVER_BIN
        return 0
    fi
    local bin
    bin=$(command -v nats-server 2>/dev/null || true)
    if [[ -z "$bin" && -x /usr/sbin/nats-server ]]; then
        # /usr/sbin is not on a non-root user's PATH, but Debian installs it there.
        bin=/usr/sbin/nats-server
    fi
    if [[ -z "$bin" ]]; then
        _servers_apt_install nats-server || return 1
        bin=$(command -v nats-server 2>/dev/null || echo /usr/sbin/nats-server)
    fi
    [[ -x "$bin" ]] || _servers_die "nats-server not found even after installing it" || return 1
    NATS_SERVER_BIN=$bin
    export NATS_SERVER_BIN
}

# Print a port the kernel just handed out on 127.0.0.1. Another process could take it before
# the caller binds it; the start_* functions check again and fail clearly if that happened.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
        return
    fi
    # Fallback: probe random high ports until one refuses connections.
    local port i
    for ((i = 0; i < 100; i++)); do
        port=$((20000 + RANDOM % 40000))
        if port_is_free "$port"; then
            echo "$port"
            return 0
        fi
    done
    _servers_die "could not find a free port on 127.0.0.1"
}

# Succeeds when nothing accepts connections on 127.0.0.1:PORT.
port_is_free() {
    ! _servers_port_answers "$1"
}

_servers_port_answers() {
    # A subshell so the descriptor is closed when it ends; timeout guards a filtered port.
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# True while PID runs. A zombie counts as gone: a child we started stays a zombie until the
# shell reaps it, and it no longer holds any port or file.
_servers_pid_alive() {
    local pid=$1 state
    kill -0 "$pid" 2>/dev/null || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ "$state" != Z ]]
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# Run a PostgreSQL program as the user that owns the data: `postgres` when we are root.
# `cd /` because the postgres user may not be allowed into the caller's working directory.
_pg_run() {
    if _servers_is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

_servers_ensure_postgres_user() {
    id -u postgres >/dev/null 2>&1 && return 0
    _servers_log "creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres ||
        _servers_die "could not create the postgres user"
}

_servers_pg_bin_or_die() {
    if [[ -z "${PG_BIN:-}" ]]; then
        PG_BIN=$(_servers_newest_pg_bin) ||
            _servers_die "PostgreSQL is not installed (call ensure_postgres_installed)" || return 1
        export PG_BIN
    fi
}

start_postgres() {
    local dir=${1:?start_postgres DIR PORT} port=${2:?start_postgres DIR PORT}
    _servers_pg_bin_or_die || return 1
    mkdir -p "$dir" || return 1
    dir=$(cd "$dir" && pwd -P) || return 1
    local data=$dir/data log=$dir/postgres.log

    # The socket path must fit in sun_path (107 bytes); long paths fail obscurely otherwise.
    if ((${#dir} + ${#port} + 12 > 107)); then
        _servers_die "path too long for a unix socket: $dir (use a shorter directory)" || return 1
    fi
    port_is_free "$port" ||
        _servers_die "port $port on 127.0.0.1 is already in use; pick another port for PostgreSQL" ||
        return 1

    if _servers_is_root; then
        _servers_ensure_postgres_user || return 1
        chown -R postgres: "$dir" || return 1
        runuser -u postgres -- test -w "$dir" ||
            _servers_die "the postgres user cannot reach $dir: make its parent folders traversable (chmod o+x)" ||
            return 1
    fi

    if [[ ! -f "$data/PG_VERSION" ]]; then
        _servers_log "initialising PostgreSQL in $data"
        # C.UTF-8 where the system has it: byte-order collation (same on every machine) but
        # Unicode-aware lower()/upper(), which case-insensitive name search relies on.
        local locale=C
        if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then locale=C.UTF-8; fi
        _pg_run "$PG_BIN/initdb" --pgdata="$data" --username=postgres --auth=trust \
            --encoding=UTF8 --locale="$locale" >"$dir/initdb.log" 2>&1 ||
            _servers_die "initdb failed; see $dir/initdb.log" || return 1
    fi
    # Data written by another major version cannot be opened; say so instead of a cryptic log.
    local data_version bin_version
    data_version=$(cat "$data/PG_VERSION")
    # "postgres (PostgreSQL) 15.14 (Debian ...)" -> 15
    bin_version=$("$PG_BIN/postgres" --version | awk '{print $3}' | sed 's/[^0-9].*//')
    if [[ "$data_version" != "$bin_version" ]]; then
        _servers_die "$data was created by PostgreSQL $data_version but $PG_BIN is $bin_version; delete $dir to start afresh" ||
            return 1
    fi

    # Settings go on the command line rather than into postgresql.conf so that a change of port
    # between runs needs no editing. listen_addresses keeps it off every interface but loopback;
    # fsync stays on because tests measure and rely on durable commits.
    local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir'"
    opts+=" -c fsync=on -c synchronous_commit=on -c max_connections=300"
    _servers_log "starting PostgreSQL on 127.0.0.1:$port (log: $log)"
    # -W: do not let pg_ctl wait; we poll pg_isready ourselves with a bound.
    _pg_run "$PG_BIN/pg_ctl" start --pgdata="$data" --log="$log" --options="$opts" -W >/dev/null ||
        _servers_die "pg_ctl start failed; see $log" || return 1

    local i
    for ((i = 0; i < _SERVERS_POLL_TRIES; i++)); do
        if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
            DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
            export DATABASE_URL
            return 0
        fi
        # A server that died (bad option, port taken meanwhile) will never answer: stop waiting.
        if ((i > 5)) && [[ ! -f "$data/postmaster.pid" ]]; then
            break
        fi
        sleep 0.1
    done
    _servers_log "PostgreSQL did not become ready; last lines of $log:"
    tail -n 20 "$log" >&2 2>/dev/null || true
    stop_postgres "$dir" || true
    return 1
}

stop_postgres() {
    local dir=${1:?stop_postgres DIR}
    # Absolute, because as root the PostgreSQL programs run from /.
    dir=$(cd "$dir" 2>/dev/null && pwd -P) || return 0
    local data=$dir/data
    # Nothing was ever started here, or it is already stopped.
    [[ -f "$data/postmaster.pid" ]] || return 0
    _servers_pg_bin_or_die || return 1
    if ! _pg_run "$PG_BIN/pg_ctl" status --pgdata="$data" >/dev/null 2>&1; then
        return 0 # stale pid file of a server that is gone
    fi
    _servers_log "stopping PostgreSQL in $dir"
    _pg_run "$PG_BIN/pg_ctl" stop --pgdata="$data" -m fast -w -t 30 >/dev/null ||
        _servers_die "PostgreSQL in $data did not stop within 30 s"
}

# ---------------------------------------------------------------------------------------------
# NATS

start_nats() {
    local dir=${1:?start_nats DIR PORT} port=${2:?start_nats DIR PORT}
    [[ -n "${NATS_SERVER_BIN:-}" ]] ||
        _servers_die "NATS_SERVER_BIN is not set (call ensure_nats_installed)" || return 1
    mkdir -p "$dir/jetstream" || return 1
    dir=$(cd "$dir" && pwd -P) || return 1
    local log=$dir/nats.log pidfile=$dir/nats.pid

    port_is_free "$port" ||
        _servers_die "port $port on 127.0.0.1 is already in use; pick another port for NATS" || return 1

    _servers_log "starting nats-server on 127.0.0.1:$port (log: $log)"
    # setsid puts the server in its own session, so a Ctrl-C at the terminal reaches only the
    # caller, whose trap then stops the application before the servers it depends on. The inner
    # bash writes its own pid, then execs: the pid in the file is nats-server's whether or not
    # setsid had to fork.
    # shellcheck disable=SC2016 # $$, $1 and $@ belong to the inner bash
    setsid bash -c 'echo "$$" >"$1"; shift; exec "$@"' _ "$pidfile" \
        "$NATS_SERVER_BIN" -a 127.0.0.1 -p "$port" -js -sd "$dir/jetstream" \
        </dev/null >"$log" 2>&1 &

    local i pid=
    for ((i = 0; i < _SERVERS_POLL_TRIES; i++)); do
        [[ -z "$pid" && -s "$pidfile" ]] && pid=$(<"$pidfile")
        if [[ -n "$pid" ]]; then
            if ! _servers_pid_alive "$pid"; then
                break # exited: it will never answer
            fi
            if _servers_port_answers "$port"; then
                NATS_URL="nats://127.0.0.1:$port"
                export NATS_URL
                return 0
            fi
        fi
        sleep 0.1
    done
    _servers_log "nats-server did not become ready; last lines of $log:"
    tail -n 20 "$log" >&2 2>/dev/null || true
    stop_nats "$dir" || true
    return 1
}

stop_nats() {
    local dir=${1:?stop_nats DIR}
    # Absolute, to compare with the command line start_nats gave the server.
    dir=$(cd "$dir" 2>/dev/null && pwd -P) || return 0
    local pidfile=$dir/nats.pid pid
    [[ -s "$pidfile" ]] || return 0
    pid=$(<"$pidfile")
    # The pid file may be left from a run that was killed; make sure the pid is still our
    # nats-server (same data folder) before signalling it, since pids get reused.
    if ! _servers_pid_alive "$pid" ||
        ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/jetstream"; then
        rm -f "$pidfile"
        return 0
    fi
    _servers_log "stopping nats-server (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < _SERVERS_POLL_TRIES; i++)); do
        if ! _servers_pid_alive "$pid"; then
            rm -f "$pidfile"
            return 0
        fi
        sleep 0.1
    done
    _servers_log "nats-server (pid $pid) ignored TERM for 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}
