# Shared helpers for tools/testenv scripts. Source it; do not run it.
# shellcheck shell=bash

TESTENV_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TESTENV_DIR="${TESTENV_DIR:-$TESTENV_REPO/.testenv}"
TESTENV_LOGS="$TESTENV_DIR/logs"
TESTENV_CACHE="${APIMCONF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/apim-conformance}"
CONTROLPLANE_MOD="$TESTENV_REPO/tools/testenv/controlplane"
K8S_VERSION=v1.36.3

mkdir -p "$TESTENV_DIR" "$TESTENV_LOGS"

log() { printf '[testenv %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# fail STEP LOGFILE MESSAGE: a clear error naming the failed step and its log.
fail() {
	local step="$1" logf="$2"; shift 2
	printf '[testenv] FAILED step %q: %s\n' "$step" "$*" >&2
	if [ -n "$logf" ] && [ -f "$logf" ]; then
		printf '[testenv] log: %s (last lines below)\n' "$logf" >&2
		tail -n 20 "$logf" | sed 's/^/    | /' >&2
	fi
	exit 1
}

# now_ms: wall clock in milliseconds, for timings.
now_ms() { date +%s%3N; }
# took START_MS: seconds since START_MS with one decimal.
took() { local d=$(( $(now_ms) - $1 )); printf '%d.%01ds' $((d / 1000)) $(((d % 1000) / 100)); }

# controlplane_hash: the cache key of the control-plane binaries: the tools
# module's go.sum (plus go.mod, the etcd wrapper and the build recipe version).
controlplane_hash() {
	cat "$CONTROLPLANE_MOD/go.sum" "$CONTROLPLANE_MOD/go.mod" "$CONTROLPLANE_MOD/cmd/etcd/main.go" \
		<(echo "recipe=1 k8s=$K8S_VERSION") | sha256sum | cut -c1-16
}
controlplane_bindir() { echo "$TESTENV_CACHE/controlplane/$(controlplane_hash)/bin"; }

# pid_alive PIDFILE: true when the pid file names a live process.
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid PIDFILE NAME: TERM, wait up to 20 s, then KILL; removes the pid file.
stop_pid() {
	local pf="$1" name="$2" pid i
	[ -s "$pf" ] || { rm -f "$pf"; return 0; }
	pid="$(cat "$pf")"
	if kill -0 "$pid" 2>/dev/null; then
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) did not stop in 20 s; killing"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$pf"
}
