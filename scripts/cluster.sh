#!/usr/bin/env bash
# `make cluster`: the scaled-out deployment (SPEC 11) as local processes, for demos and tests:
# API instances (ports API_PORTS) that only enqueue and WORKERS workers, on the local PostgreSQL
# and Redis. Ctrl-C or SIGTERM stops every child gracefully; it never leaves one running.
set -euo pipefail

cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
HOST=${HOST:-127.0.0.1}
API_PORTS=${API_PORTS:-"8001 8002"}
WORKERS=${WORKERS:-2}
WORKER_CONCURRENCY=${WORKER_CONCURRENCY:-4}
LOG_DIR=${LOG_DIR:-cluster-logs}
START_TIMEOUT_S=${START_TIMEOUT_S:-30}
# A child still running this long after SIGTERM is killed (it should end within SHUTDOWN_TIMEOUT_S).
STOP_TIMEOUT_S=${STOP_TIMEOUT_S:-30}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_USER=${PG_USER:-postgres}
CLUSTER_DB=diagnosis_cluster

names=()
pids=()
reported=()  # indices of children that ended on their own (already waited for)

log() { printf 'cluster: %s\n' "$*" >&2; }

alive() { kill -0 "$1" 2>/dev/null; }

# SIGTERM to every child still running, then wait for each (bounded, then SIGKILL).
stop_all() {
    local i pid rc deadline
    ((${#pids[@]})) || return 0
    for pid in "${pids[@]}"; do
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    deadline=$((SECONDS + STOP_TIMEOUT_S))
    for i in "${!pids[@]}"; do
        [[ -z ${reported[$i]:-} ]] || continue
        pid=${pids[$i]}
        while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
        if alive "$pid"; then
            log "${names[$i]} (pid $pid) still running after ${STOP_TIMEOUT_S}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        log "${names[$i]} (pid $pid) stopped (exit $rc)"
    done
    pids=()
    names=()
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    exit "$rc"
}
trap on_exit EXIT
trap 'log "stopping"; exit 0' INT TERM

# start NAME COMMAND...: runs it in the background, output in $LOG_DIR/NAME.log.
start() {
    local name=$1
    shift
    "$@" >"$LOG_DIR/$name.log" 2>&1 &
    names+=("$name")
    pids+=("$!")
}

died_at_start() {
    log "$1 (pid $2) died at start; the end of $LOG_DIR/$1.log:"
    tail -n 20 "$LOG_DIR/$1.log" >&2 || true
    exit 1
}

health_ok() { curl -fsS -o /dev/null --max-time 2 "http://$HOST:$1/health"; }

# wait_healthy NAME PID PORT: until /health answers 200, the child dies, or START_TIMEOUT_S.
wait_healthy() {
    local deadline=$((SECONDS + START_TIMEOUT_S))
    until health_ok "$3" 2>/dev/null; do
        alive "$2" || died_at_start "$1" "$2"
        if ((SECONDS >= deadline)); then
            log "$1 (pid $2): no /health on port $3 within ${START_TIMEOUT_S}s"
            exit 1
        fi
        sleep 0.3
    done
}

# wait_worker NAME PID: a worker has no port; it is up when it logs "worker started".
wait_worker() {
    local deadline=$((SECONDS + START_TIMEOUT_S))
    until grep -q "worker started" "$LOG_DIR/$1.log" 2>/dev/null; do
        alive "$2" || died_at_start "$1" "$2"
        if ((SECONDS >= deadline)); then
            log "$1 (pid $2): no \"worker started\" within ${START_TIMEOUT_S}s (still running)"
            return 0
        fi
        sleep 0.3
    done
}

[[ -x $BIN/diagnosis ]] || { log "$BIN/diagnosis not found: run \`make install\`"; exit 1; }
read -r -a ports <<<"$API_PORTS"
((${#ports[@]})) || { log "API_PORTS is empty"; exit 1; }
for port in "${ports[@]}"; do
    if health_ok "$port" 2>/dev/null; then
        log "port $port already serves /health: stop that server or set API_PORTS"
        exit 1
    fi
done

# The database: diagnosis_cluster on the local server, created when missing, unless overridden.
if [[ -z ${DIAGNOSIS_DATABASE_URL:-} ]]; then
    psql -h "$PG_HOST" -U "$PG_USER" -d postgres -tc \
        "SELECT 1 FROM pg_database WHERE datname='$CLUSTER_DB'" | grep -q 1 \
        || createdb -h "$PG_HOST" -U "$PG_USER" "$CLUSTER_DB"
    export DIAGNOSIS_DATABASE_URL="postgresql+asyncpg://$PG_USER@$PG_HOST:5432/$CLUSTER_DB"
fi
export DIAGNOSIS_REDIS_URL=${DIAGNOSIS_REDIS_URL:-redis://127.0.0.1:6379/0}
if command -v redis-cli >/dev/null && ! redis-cli -u "$DIAGNOSIS_REDIS_URL" ping >/dev/null 2>&1; then
    log "Redis does not answer at $DIAGNOSIS_REDIS_URL"
    exit 1
fi
export DIAGNOSIS_RUNNER=queue
# Every instance must share it (stream tokens); a fresh one per run unless given.
if [[ -z ${DIAGNOSIS_STREAM_TOKEN_SECRET:-} ]]; then
    DIAGNOSIS_STREAM_TOKEN_SECRET=$("$BIN/python" -c 'import secrets;print(secrets.token_urlsafe(32))')
fi
export DIAGNOSIS_STREAM_TOKEN_SECRET

mkdir -p "$LOG_DIR"
[[ -e $LOG_DIR/.gitignore ]] || printf '*\n' >"$LOG_DIR/.gitignore"

# The first instance migrates alone (the others would wait on its advisory lock anyway), so a
# migration error shows in one log; the rest start together.
first=${ports[0]}
start "api-$first" "$BIN/diagnosis" serve --host "$HOST" --port "$first"
wait_healthy "api-$first" "${pids[-1]}" "$first"
for port in "${ports[@]:1}"; do
    start "api-$port" "$BIN/diagnosis" serve --host "$HOST" --port "$port"
done
for ((n = 1; n <= WORKERS; n++)); do
    start "worker-$n" "$BIN/diagnosis" worker --concurrency "$WORKER_CONCURRENCY"
done
for i in "${!names[@]}"; do
    case ${names[$i]} in
        api-"$first") ;;
        api-*) wait_healthy "${names[$i]}" "${pids[$i]}" "${names[$i]#api-}" ;;
        worker-*) wait_worker "${names[$i]}" "${pids[$i]}" ;;
    esac
done

log "database $DIAGNOSIS_DATABASE_URL, redis $DIAGNOSIS_REDIS_URL, logs in $LOG_DIR/"
for i in "${!names[@]}"; do
    case ${names[$i]} in
        api-*) where="http://$HOST:${names[$i]#api-}" ;;
        *) where="(no port, concurrency $WORKER_CONCURRENCY)" ;;
    esac
    printf '  %-10s pid %-8s %s\n' "${names[$i]}" "${pids[$i]}" "$where"
done
log "running; Ctrl-C (or SIGTERM) stops them all"

# Until stopped: report a child that ends on its own (e.g. killed for a demo) and keep the rest.
while :; do
    running=0
    for i in "${!pids[@]}"; do
        if alive "${pids[$i]}"; then
            running=$((running + 1))
        elif [[ -z ${reported[$i]:-} ]]; then
            rc=0
            wait "${pids[$i]}" 2>/dev/null || rc=$?
            log "${names[$i]} (pid ${pids[$i]}) exited on its own (exit $rc); see $LOG_DIR/${names[$i]}.log"
            reported[i]=1
        fi
    done
    if ((running == 0)); then
        log "every process has exited"
        exit 1
    fi
    sleep 1 &
    wait $! || true
done
