#!/usr/bin/env bash
# The container test: the shipped image, as an operator runs it, against a
# fresh database on the host's PostgreSQL.
#
#  1. Builds the runtime image with no registry: a Debian base made by
#     `debootstrap --variant=minbase bookworm` (cached under
#     /var/cache/tasknet-ci, outside the checkout) imported into podman, with
#     the tasknet binary copied in ($TASKNET_BINARY, default
#     target/debug/tasknet, which `cargo test` has already built).
#  2. Bootstraps the credentials once (a second run is refused), then starts
#     organisation x2, task x2, reporting x2 and notification x2 as
#     containers on distinct ports (replicas of a service start together on
#     the empty schemas).
#  3. Loads the small demo through the split deployment, then two office
#     agents push tasks of their own through the two task replicas; while
#     they push, one replica of each service is killed (SIGKILL) and
#     started again.
#  4. Checks: the agents' outboxes end empty with nothing parked, both
#     reporting replicas report exactly the demo's figures plus the tasks
#     the agents entered (counted independently here), nothing lost or
#     doubled, exactly one administrator credential exists, and a day
#     judged through one notification replica and again through the other
#     is decided once (the replicas share one outbox).
#
# Containers run with `--runtime runc --network host` and explicit ulimits
# (crun and the default ulimits fail in this sandbox). Everything it starts
# (containers, image, database, agents) is removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

BINARY=${TASKNET_BINARY:-target/debug/tasknet}
CACHE=${TASKNET_CI_CACHE:-/var/cache/tasknet-ci}
PG_ADMIN=${TASKNET_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
TASKS_PER_OFFICE=${TASKS_PER_OFFICE:-1500}
BASE_IMAGE=localhost/tasknet-ci-base:bookworm
RUN_ID=$$
IMAGE=localhost/tasknet-ci:$RUN_ID
PREFIX=tasknet-ct-$RUN_ID
DB=tasknet_ct_$RUN_ID
DB_URL="${PG_ADMIN%/*}/$DB"
PORT=$((30000 + (RUN_ID % 2500) * 10))
WORK=$(mktemp -d /tmp/tasknet-ct.XXXXXX)
AGENT_PIDS=()

log() { printf '[%4ss] %s\n' "$(($(date +%s) - started))" "$*"; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
    local status=$?
    set +e
    for pid in "${AGENT_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    if [ "$status" -ne 0 ]; then
        for name in $(podman ps -a --format '{{.Names}}' --filter "name=$PREFIX"); do
            echo "--- last log lines of $name"
            podman logs --tail 15 "$name" 2>&1
        done
        for log in "$WORK"/agent-*.log; do [ -f "$log" ] && { echo "--- $log"; tail -5 "$log"; }; done
    fi
    podman ps -aq --filter "name=$PREFIX" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
    podman rmi -f "$IMAGE" >/dev/null 2>&1
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$WORK"
    log "cleaned up (exit status $status)"
}
trap cleanup EXIT

# --- tools -----------------------------------------------------------------
missing=()
for tool in podman runc debootstrap psql python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    packages=(podman buildah runc debootstrap postgresql-client python3)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
[ -x "$BINARY" ] || fail "$BINARY not found: run cargo test (or cargo build) first, or set TASKNET_BINARY"

# --- image -----------------------------------------------------------------
if ! podman image exists "$BASE_IMAGE"; then
    root="$CACHE/bookworm-minbase"
    if [ ! -d "$root" ]; then
        log "debootstrap --variant=minbase bookworm (cached in $CACHE)"
        mkdir -p "$CACHE"
        rm -rf "$root.partial"
        debootstrap --variant=minbase bookworm "$root.partial" >"$WORK/debootstrap.log" 2>&1 \
            || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap failed"; }
        mv "$root.partial" "$root"
    fi
    log "importing the base image"
    tar -C "$root" -c . | podman import - "$BASE_IMAGE" >/dev/null
fi
mkdir -p "$WORK/image"
cp "$BINARY" "$WORK/image/tasknet"
cat >"$WORK/image/Containerfile" <<EOF
# deploy/Containerfile's base and prebuilt stages, on the debootstrapped base.
FROM $BASE_IMAGE
RUN useradd --system --uid 10001 --home /var/lib/tasknet tasknet \\
    && mkdir -p /var/lib/tasknet/credentials && chown -R tasknet /var/lib/tasknet
COPY --chmod=0755 tasknet /usr/local/bin/tasknet
USER 10001
WORKDIR /var/lib/tasknet
ENV TASKNET_LISTEN=0.0.0.0:50051 TASKNET_DATA_DIR=/var/lib/tasknet
ENTRYPOINT ["/usr/local/bin/tasknet"]
CMD ["up"]
EOF
log "building $IMAGE"
podman build --runtime runc --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
    -q -t "$IMAGE" "$WORK/image" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "image build failed"; }

RUN=(podman --runtime runc run --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
     --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges
     -e RUST_LOG=info -e TASKNET_LOG_FORMAT=json)

# --- database and bootstrap -------------------------------------------------
psql -q "$PG_ADMIN" -c "CREATE DATABASE $DB" >/dev/null
mkdir -m 0777 "$WORK/credentials"
bootstrap() {
    "${RUN[@]}" --rm -v "$WORK/credentials:/var/lib/tasknet/credentials" "$IMAGE" \
        admin bootstrap --database-url "$DB_URL" --out /var/lib/tasknet/credentials "$@"
}
log "bootstrap"
bootstrap >"$WORK/bootstrap.log" 2>&1 || { cat "$WORK/bootstrap.log"; fail "bootstrap failed"; }
if bootstrap >>"$WORK/bootstrap.log" 2>&1; then fail "a second bootstrap was not refused"; fi
bootstrap --exists-ok >>"$WORK/bootstrap.log" 2>&1 || { cat "$WORK/bootstrap.log"; fail "bootstrap --exists-ok failed"; }
ADMIN_TOKEN=$(cat "$WORK/credentials/admin.token")
SERVICE_TOKEN=$(cat "$WORK/credentials/service.token")

# --- services -----------------------------------------------------------------
org_a=$((PORT + 1)); org_b=$((PORT + 2))
task_a=$((PORT + 3)); task_b=$((PORT + 4))
rep_a=$((PORT + 5)); rep_b=$((PORT + 6))
notify_a=$((PORT + 7)); notify_b=$((PORT + 8))
url() { echo "http://127.0.0.1:$1"; }
service() { # NAME PORT ARGS...
    local name=$1 port=$2
    shift 2
    "${RUN[@]}" -d --name "$PREFIX-$name" \
        -e TASKNET_DATABASE_URL="$DB_URL" -e TASKNET_SERVICE_TOKEN="$SERVICE_TOKEN" \
        -e TASKNET_LISTEN="127.0.0.1:$port" -e TASKNET_FOLLOW_STALE_AFTER_SECS=10 \
        "$IMAGE" serve "$@" >/dev/null
}
wait_healthy() { # PORT SERVICE
    for _ in $(seq 240); do
        "$BINARY" health --endpoint "$(url "$1")" --service "$2" --timeout-secs 2 >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    fail "$2 on port $1 never became SERVING"
}
start_all() {
    service organisation-a $org_a organisation
    service organisation-b $org_b organisation
    wait_healthy $org_a tasknet.v1.OrganisationService
    wait_healthy $org_b tasknet.v1.OrganisationService
    service task-a $task_a task --organisation-endpoint "$(url $org_a)"
    service task-b $task_b task --organisation-endpoint "$(url $org_b)"
    wait_healthy $task_a tasknet.v1.TaskService
    wait_healthy $task_b tasknet.v1.TaskService
    service reporting-a $rep_a reporting --organisation-endpoint "$(url $org_a)" --task-endpoint "$(url $task_a)"
    service reporting-b $rep_b reporting --organisation-endpoint "$(url $org_b)" --task-endpoint "$(url $task_b)"
    wait_healthy $rep_a tasknet.v1.ReportingService
    wait_healthy $rep_b tasknet.v1.ReportingService
    service notification-a $notify_a notification --organisation-endpoint "$(url $org_a)" --reporting-endpoint "$(url $rep_a)"
    service notification-b $notify_b notification --organisation-endpoint "$(url $org_b)" --reporting-endpoint "$(url $rep_b)"
    wait_healthy $notify_a tasknet.v1.NotificationService
    wait_healthy $notify_b tasknet.v1.NotificationService
}
log "starting organisation x2, task x2, reporting x2, notification x2"
start_all

export TASKNET_TOKEN="$ADMIN_TOKEN"
CLI_A=(--organisation-endpoint "$(url $org_a)" --task-endpoint "$(url $task_a)" --reporting-endpoint "$(url $rep_a)"
       --notification-endpoint "$(url $notify_a)")
CLI_B=(--organisation-endpoint "$(url $org_b)" --task-endpoint "$(url $task_b)" --reporting-endpoint "$(url $rep_b)"
       --notification-endpoint "$(url $notify_b)")

log "loading the small demo through the split deployment"
"$BINARY" demo load --size small "${CLI_A[@]}" >"$WORK/demo.log" 2>&1 || { tail -5 "$WORK/demo.log"; fail "demo load failed"; }

# National figures of a period, as "total on_time late open_within overdue".
figures() { # PERIOD AS_OF CLI_ARGS...
    local period=$1 as_of=$2
    shift 2
    "$BINARY" report status --period "$period" --as-of "$as_of" --format json "$@" | python3 -c '
import json, sys
c = json.load(sys.stdin)["national"]["current"]
print(*(c[k] for k in ("total", "completed_on_time", "completed_late", "open_within_deadline", "open_overdue")))'
}
DEMO_FIGURES=$(figures 2024-H1 2024-06-30 "${CLI_A[@]}")
AGENT_PERIOD=2026-H1
AGENT_AS_OF=2026-05-15
BEFORE=$(figures $AGENT_PERIOD $AGENT_AS_OF "${CLI_A[@]}")
log "demo loaded: 2024-H1 figures $DEMO_FIGURES; $AGENT_PERIOD before the agents: $BEFORE"

# --- agents -----------------------------------------------------------------
# Each office's tasks, in four kinds whose class on AGENT_AS_OF is known:
# completed on time, completed late, open within deadline, open overdue.
write_csv() { # FILE OFFICE_INDEX
    python3 - "$1" "$2" "$TASKS_PER_OFFICE" <<'EOF'
import csv, datetime, sys
path, office, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
day = lambda s: datetime.date.fromisoformat(s)
kinds = [  # deadline, completed on
    ("2026-04-30", "2026-04-20"),
    ("2026-03-31", "2026-04-10"),
    ("2026-06-20", None),
    ("2026-04-15", None),
]
with open(path, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["action", "task", "effective", "title", "deadline", "text"])
    for i in range(count):
        deadline, done = kinds[i % 4]
        ref = f"CT-{office}-{i}"
        created = day("2026-01-05") + datetime.timedelta(days=i % 60)
        w.writerow(["create", ref, created.isoformat(), f"Nhiệm vụ kiểm thử {office}-{i}", deadline, ""])
        w.writerow(["note", ref, (created + datetime.timedelta(days=1)).isoformat(), "", "", f"ghi chú {i}"])
        if done:
            w.writerow(["complete", ref, done, "", "", "xong"])
EOF
}
expected_added() {
    python3 - "$TASKS_PER_OFFICE" <<'EOF'
import sys
n = int(sys.argv[1])
per_kind = [len(range(k, n, 4)) for k in range(4)]
print(2 * n, *(2 * c for c in per_kind))
EOF
}
today=$(date -u +%F)
declare -A AGENT_DIR AGENT_UNIT
offices=(01 79)
for index in 0 1; do
    code=${offices[$index]}
    if [ $index -eq 0 ]; then cli=("${CLI_A[@]}"); endpoint=$(url $task_a); else cli=("${CLI_B[@]}"); endpoint=$(url $task_b); fi
    unit=$("$BINARY" org unit "$code" --on "$today" --format json "${cli[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    token=$("$BINARY" admin token create --role office-agent --unit "$code" --label "container test $code" "${cli[@]}" 2>/dev/null)
    dir="$WORK/agent-$code"
    AGENT_DIR[$index]=$dir
    AGENT_UNIT[$index]=$unit
    write_csv "$WORK/office-$code.csv" "$index"
    agent=("$BINARY" agent --unit "$unit" --endpoint "$endpoint" --data-dir "$dir")
    TASKNET_AGENT_TOKEN="$token" "${agent[@]}" import "$WORK/office-$code.csv" >/dev/null
    TASKNET_AGENT_TOKEN="$token" "${agent[@]}" run >"$WORK/agent-$code.log" 2>&1 &
    AGENT_PIDS+=($!)
done
agent_status() { # INDEX FIELD
    "$BINARY" agent --unit "${AGENT_UNIT[$1]}" --data-dir "${AGENT_DIR[$1]}" status --format json 2>/dev/null \
        | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}
total_updates=$(( $(wc -l <"$WORK/office-01.csv") - 1 ))
log "two agents pushing $total_updates updates each, through task-a and task-b"

# Kill one replica of each service while agent A (pushing to task-a) is mid-push.
for _ in $(seq 600); do
    sent=$(agent_status 0 sent || echo 0)
    [ "$sent" -gt 0 ] && break
    sleep 0.05
done
podman kill "$PREFIX-task-a" "$PREFIX-organisation-a" "$PREFIX-reporting-a" >/dev/null
pending_at_kill=$(agent_status 0 pending)
log "killed task-a, organisation-a, reporting-a with agent A at $sent sent, $pending_at_kill pending"
[ "$pending_at_kill" -gt 0 ] || fail "agent A had finished before the kill: raise TASKS_PER_OFFICE"
sleep 3
podman start "$PREFIX-organisation-a" >/dev/null
wait_healthy $org_a tasknet.v1.OrganisationService
podman start "$PREFIX-task-a" "$PREFIX-reporting-a" >/dev/null
wait_healthy $task_a tasknet.v1.TaskService
wait_healthy $rep_a tasknet.v1.ReportingService
log "restarted them"

for index in 0 1; do
    for _ in $(seq 1200); do
        [ "$(agent_status $index pending)" -eq 0 ] && break
        sleep 0.25
    done
    pending=$(agent_status $index pending); parked=$(agent_status $index parked); sent=$(agent_status $index sent)
    [ "$pending" -eq 0 ] || fail "agent $index still has $pending pending updates"
    [ "$parked" -eq 0 ] || fail "agent $index has $parked parked (refused) updates"
    [ "$sent" -eq "$total_updates" ] || fail "agent $index sent $sent of $total_updates updates"
done
for pid in "${AGENT_PIDS[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
AGENT_PIDS=()
log "both outboxes are empty: every update acknowledged once"

# --- checks -----------------------------------------------------------------
read -r -a before <<<"$BEFORE"
read -r -a added <<<"$(expected_added)"
expected=""
for i in 0 1 2 3 4; do expected+="$((before[i] + added[i])) "; done
expected=${expected% }
for replica in a b; do
    if [ $replica = a ]; then cli=("${CLI_A[@]}"); else cli=("${CLI_B[@]}"); fi
    seen=""
    for _ in $(seq 240); do
        seen=$(figures $AGENT_PERIOD $AGENT_AS_OF "${cli[@]}")
        [ "$seen" = "$expected" ] && break
        sleep 0.5
    done
    [ "$seen" = "$expected" ] || fail "reporting-$replica: $AGENT_PERIOD figures $seen, expected $expected (total on-time late open overdue)"
    demo=$(figures 2024-H1 2024-06-30 "${cli[@]}")
    [ "$demo" = "$DEMO_FIGURES" ] || fail "reporting-$replica: 2024-H1 figures changed to $demo from $DEMO_FIGURES"
done
log "both reporting replicas: $AGENT_PERIOD = $expected (before + the agents' tasks), 2024-H1 unchanged"

admins=$(psql -tA "$DB_URL" -c "SELECT COUNT(*) FROM organisation.credentials WHERE role = 5")
[ "$admins" = 1 ] || fail "$admins administrator credentials, expected exactly 1"
services=$(psql -tA "$DB_URL" -c "SELECT COUNT(*) FROM organisation.credentials WHERE role = 6")
[ "$services" = 1 ] || fail "$services service credentials, expected exactly 1"
log "exactly one administrator and one service credential"

# --- notifications ------------------------------------------------------------
# Today's Vietnam date, judged through replica a and then again through b:
# the second finds everything decided (one outbox, each notification once).
judged() { # DAY CLI_ARGS... -> "decided already"
    local day=$1
    shift
    "$BINARY" notify judge-day "$day" "$@" | sed -E 's/^judged [0-9-]+: ([0-9]+) decided, ([0-9]+) already decided$/\1 \2/'
}
vn_today=$(TZ=Asia/Ho_Chi_Minh date +%F)
read -r decided_a already_a <<<"$(judged "$vn_today" "${CLI_A[@]}")"
total=$((decided_a + already_a))
[ "$total" -gt 0 ] || fail "notification-a decided nothing for $vn_today over the demo's open tasks"
read -r decided_b already_b <<<"$(judged "$vn_today" "${CLI_B[@]}")"
[ "$decided_b" = 0 ] && [ "$already_b" = "$total" ] \
    || fail "notification-b judged $vn_today again: $decided_b decided, $already_b already (expected 0 and $total)"
"$BINARY" notify status "${CLI_B[@]}" >"$WORK/notify-status.txt" || fail "notify status through notification-b failed"
log "notifications: $vn_today judged through both replicas, $total decided once"
log "PASS in $(($(date +%s) - started)) s"
