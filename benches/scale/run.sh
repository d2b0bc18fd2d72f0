#!/usr/bin/env bash
# The scale test: PostgreSQL, three fraud-server replicas and nginx (with
# deploy/nginx/fraud-engine.conf, its ports changed), all real processes on
# loopback in a temporary directory.
#
#   1. load one replica directly (the baseline), then the same load through
#      nginx to the three;
#   2. SIGKILL one replica a third of the way into the nginx run, and start
#      it again two seconds later;
#   3. report throughput and p99 through nginx beside the single replica's,
#      failed requests, and answered predictions against the rows in
#      PostgreSQL (by request id: nginx passes one id per request, kept on
#      retries).
#
#   benches/scale/run.sh            # 20 s per run, release build
#   benches/scale/run.sh --short    # 6 s per run; exits 1 unless 0 requests
#                                   # failed and every answered prediction is
#                                   # in PostgreSQL (CI runs this)
#
# SCALE_SECONDS sets the seconds per run, SCALE_CONNECTIONS wrk's
# connections (default 32), FRAUD_SERVER_BIN a prebuilt binary (else
# `cargo build --release`). Needs Debian's postgresql, nginx-light and wrk
# (deploy/install-test-deps.sh). Runs as root or not: PostgreSQL runs as
# the postgres user when root.
set -euo pipefail
SHORT=0
[ "${1:-}" = "--short" ] && SHORT=1
SECONDS_PER_RUN="${SCALE_SECONDS:-$([ "$SHORT" = 1 ] && echo 6 || echo 20)}"
CONNECTIONS="${SCALE_CONNECTIONS:-32}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

fail() { echo "scale: $*" >&2; exit 1; }
command -v wrk >/dev/null || fail "wrk is not installed (deploy/install-test-deps.sh)"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$NGINX" ] || fail "nginx is not installed (deploy/install-test-deps.sh)"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$PGBIN/initdb" ] || fail "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb (deploy/install-test-deps.sh)"

if [ -n "${FRAUD_SERVER_BIN:-}" ]; then
    BIN="$FRAUD_SERVER_BIN"
else
    cargo build --release -p fraud-server --manifest-path "$ROOT/Cargo.toml" >&2
    BIN="$CARGO_TARGET_DIR/release/fraud-server"
fi
[ -x "$BIN" ] || fail "no server binary at $BIN"

WORK="$(mktemp -d /tmp/fraud-scale.XXXXXX)"
chmod 755 "$WORK"
declare -a REPLICA_PIDS=()
NGINX_STARTED=0
PG_PID=""
cleanup() {
    set +e
    for pid in "${REPLICA_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${REPLICA_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    [ "$NGINX_STARTED" = 1 ] && "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -s stop 2>/dev/null
    [ -n "$PG_PID" ] && kill -QUIT "$PG_PID" 2>/dev/null && wait "$PG_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# A free loopback port: below the kernel's ephemeral range (so no outgoing
# connection holds it as its local end), none of the ports given as
# arguments (those already chosen), and nothing answers a connect on it.
EPHEMERAL_LOW="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
free_port() {
    local port
    while :; do
        port=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
        case " $* " in *" $port "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# ---- PostgreSQL: a fresh cluster, on a Unix socket in $WORK only ----
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
    RUN_AS=(setpriv --reuid=postgres --regid=postgres --clear-groups --)
    chown postgres: "$WORK"
fi
echo "scale-test-secret" >"$WORK/pgpass"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK/pgpass"
"${RUN_AS[@]}" "$PGBIN/initdb" -D "$WORK/pg" -U fraud --auth=scram-sha-256 \
    --pwfile="$WORK/pgpass" --no-locale -E UTF8 >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log"; fail "initdb failed"; }
"${RUN_AS[@]}" "$PGBIN/postgres" -D "$WORK/pg" -k "$WORK" -c listen_addresses='' \
    -c max_connections=100 >"$WORK/postgres.log" 2>&1 &
PG_PID=$!
for _ in $(seq 100); do
    PGPASSWORD=scale-test-secret "$PGBIN/psql" -h "$WORK" -U fraud -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
done
psql_q() { PGPASSWORD=scale-test-secret "$PGBIN/psql" -h "$WORK" -U fraud -d frauddb -v ON_ERROR_STOP=1 -Atqc "$1"; }
PGPASSWORD=scale-test-secret "$PGBIN/psql" -h "$WORK" -U fraud -d postgres -Atqc 'CREATE DATABASE frauddb' \
    || { cat "$WORK/postgres.log"; fail "PostgreSQL did not start"; }
SOCKET_DIR_ENCODED="$(printf '%s' "$WORK" | sed 's|/|%2F|g')"
DATABASE_URL="postgres://fraud:scale-test-secret@${SOCKET_DIR_ENCODED}/frauddb"
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on $WORK (socket only)"

# ---- one model for every replica ----
# (A smaller forest in --short, where CI may run a debug build.)
"$BIN" generate --rows 20000 --out "$WORK/train.csv" >/dev/null
"$BIN" train --data "$WORK/train.csv" --trees "$([ "$SHORT" = 1 ] && echo 30 || echo 100)" \
    --out "$WORK/model.fem" >/dev/null 2>&1

# ---- three replicas, started together (they race to migrate) ----
PORTS=()
for _ in 1 2 3; do PORTS+=("$(free_port "${PORTS[@]}")"); done
start_replica() {
    local n="$1"
    DATABASE_URL="$DATABASE_URL" TRUSTED_PROXIES=127.0.0.1 RATE_LIMIT_PER_MINUTE=0 \
        "$BIN" serve --port "${PORTS[$n]}" --model "$WORK/model.fem" --data-dir "$WORK/data-$n" \
        >>"$WORK/replica-$n.out" 2>>"$WORK/replica-$n.log" &
    REPLICA_PIDS[$n]=$!
}
wait_ready() {
    local port="$1"
    for _ in $(seq 300); do
        curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
for n in 0 1 2; do start_replica "$n"; done
for n in 0 1 2; do
    wait_ready "${PORTS[$n]}" || { cat "$WORK/replica-$n.log"; fail "replica $n is not ready"; }
done
echo "replicas on ports ${PORTS[*]}; schema: $(psql_q 'SELECT count(*) FROM schema_migrations') migration(s) recorded once"

# ---- nginx with the deployed config, ports changed ----
NGINX_PORT="$(free_port "${PORTS[@]}")"
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
sed -e "s/127.0.0.1:5001/127.0.0.1:${PORTS[0]}/" \
    -e "s/127.0.0.1:5002/127.0.0.1:${PORTS[1]}/" \
    -e "s/127.0.0.1:5003/127.0.0.1:${PORTS[2]}/" \
    -e "s/listen 80;/listen 127.0.0.1:${NGINX_PORT};/" \
    "$ROOT/deploy/nginx/fraud-engine.conf" >"$WORK/nginx/fraud-engine.conf"
grep -q "127.0.0.1:${PORTS[2]}" "$WORK/nginx/fraud-engine.conf" || fail "the nginx config's upstream ports were not found"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    log_format attempts '\$status \$upstream_addr \$upstream_status';
    access_log $WORK/nginx/logs/access.log attempts buffer=64k;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    include $WORK/nginx/fraud-engine.conf;
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -t -q 2>"$WORK/nginx/check.log" \
    || { cat "$WORK/nginx/check.log"; fail "nginx refused the config"; }
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>>"$WORK/nginx/logs/error.log"
NGINX_STARTED=1
wait_ready "$NGINX_PORT" || { cat "$WORK/nginx/logs/error.log"; fail "nginx does not answer"; }
echo "nginx $("$NGINX" -v 2>&1 | sed 's|.*/||') on 127.0.0.1:$NGINX_PORT"

# ---- the runs ----
run_wrk() {
    local name="$1" url="$2"
    SCALE_IDS="$WORK/ids-$name" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --timeout 10s --latency \
        -s "$HERE/predict.lua" "$url/api/predict" >"$WORK/wrk-$name.txt"
}
echo "== single replica: wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s -> 127.0.0.1:${PORTS[0]}"
run_wrk single "http://127.0.0.1:${PORTS[0]}"
echo "== nginx -> 3 replicas: wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s -> 127.0.0.1:$NGINX_PORT, SIGKILL replica 1 at $((SECONDS_PER_RUN / 3)) s, restart 2 s later"
run_wrk nginx "http://127.0.0.1:$NGINX_PORT" &
WRK_PID=$!
sleep $((SECONDS_PER_RUN / 3))
kill -KILL "${REPLICA_PIDS[1]}"
wait "${REPLICA_PIDS[1]}" 2>/dev/null || true
KILLED_AT="$(date +%s.%N)"
sleep 2
start_replica 1
wait_ready "${PORTS[1]}" || { cat "$WORK/replica-1.log"; fail "replica 1 did not come back"; }
BACK_AFTER="$(awk -v a="$KILLED_AT" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')"
wait "$WRK_PID"

# Graceful stop: every queued record is written before the counts.
for pid in "${REPLICA_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${REPLICA_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
REPLICA_PIDS=()
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -s stop 2>/dev/null || true
NGINX_STARTED=0
sleep 0.5

# ---- the figures ----
rps() { awk '/Requests\/sec/{print $2}' "$WORK/wrk-$1.txt"; }
p99() { awk '$1=="99%"{print $2}' "$WORK/wrk-$1.txt"; }
requests() { awk '/requests in/{print $1}' "$WORK/wrk-$1.txt"; }
non2xx() { awk '/^non-2xx responses:/{print $3}' "$WORK/wrk-$1.txt"; }
socket_errors() {
    awk '/Socket errors/{gsub(",", ""); print $4 + $6 + $8 + $10; found=1} END{if (!found) print 0}' "$WORK/wrk-$1.txt"
}
cat "$WORK"/ids-single.* | sort -u >"$WORK/answered-single"
cat "$WORK"/ids-nginx.* | sort -u >"$WORK/answered-nginx"
sort -u "$WORK/answered-single" "$WORK/answered-nginx" >"$WORK/answered"
psql_q "SELECT request_id FROM predictions" | sort >"$WORK/rows"
sort -u "$WORK/rows" >"$WORK/row-ids"
ANSWERED="$(wc -l <"$WORK/answered")"
ROWS="$(wc -l <"$WORK/rows")"
ROW_IDS="$(wc -l <"$WORK/row-ids")"
MISSING="$(comm -23 "$WORK/answered" "$WORK/row-ids" | wc -l)"
UNANSWERED_ROWS="$(comm -13 "$WORK/answered" "$WORK/row-ids" | wc -l)"
FAILED=$(( $(non2xx nginx) + $(socket_errors nginx) ))
FAILED_SINGLE=$(( $(non2xx single) + $(socket_errors single) ))
RETRIED="$(awk '$2 ~ /,/' "$WORK/nginx/logs/access.log" | wc -l)"
ANSWERED_NGINX="$(wc -l <"$WORK/answered-nginx")"

echo
echo "scale test ($(nproc) cores shared by wrk, nginx, PostgreSQL and the replicas; commit durability; ${SECONDS_PER_RUN} s per run):"
printf '  %-34s %10s %10s %10s %8s\n' "" "req/s" "p99" "requests" "failed"
printf '  %-34s %10s %10s %10s %8s\n' "one replica, direct" "$(rps single)" "$(p99 single)" "$(requests single)" "$FAILED_SINGLE"
printf '  %-34s %10s %10s %10s %8s\n' "nginx -> 3 replicas, one killed" "$(rps nginx)" "$(p99 nginx)" "$(requests nginx)" "$FAILED"
echo "  nginx / single throughput: $(awk -v a="$(rps nginx)" -v b="$(rps single)" 'BEGIN{printf "%.2f", a/b}')"
echo "  replica 1 SIGKILLed mid-run, answering again ${BACK_AFTER} s later; requests nginx sent to a second replica: $RETRIED"
echo "  answered predictions: $ANSWERED (through nginx: $ANSWERED_NGINX); rows in PostgreSQL: $ROWS with $ROW_IDS distinct request ids"
echo "  answered but not in PostgreSQL: $MISSING"
echo "  in PostgreSQL, answer never read by wrk: $UNANSWERED_ROWS (wrk stops with up to $CONNECTIONS requests in flight per run)"
echo "  duplicate rows (same request id: committed by the killed replica, then retried by nginx): $((ROWS - ROW_IDS))"

if [ "$SHORT" = 1 ]; then
    [ "$FAILED" = 0 ] || fail "$FAILED requests failed through nginx (want 0)"
    [ "$FAILED_SINGLE" = 0 ] || fail "$FAILED_SINGLE requests failed against one replica (want 0)"
    [ "$MISSING" = 0 ] || fail "$MISSING answered predictions are not in PostgreSQL (want 0)"
    [ "$ANSWERED_NGINX" -gt 0 ] || fail "nothing was answered through nginx"
    echo "scale: ok (0 failed, every answered prediction in PostgreSQL)"
fi
