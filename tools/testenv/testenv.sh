#!/usr/bin/env bash
# Local test infrastructure of apim-conformance.
#
#   tools/testenv/testenv.sh up      install + start everything (idempotent; reuses what runs)
#                                    and print the environment to export on stdout
#   tools/testenv/testenv.sh down    stop everything it started, by PID, and remove
#                                    containers (by label), the bridge, data dirs; safe twice
#   tools/testenv/testenv.sh env     print the environment again
#   tools/testenv/testenv.sh status  what runs
#
# Pieces: Debian packages; control-plane binaries built from the Go module
# proxy (cached by go.sum hash); a dockerd on its own socket and bridge with
# locally built images (local/debian:bookworm-minbase, local/mariadb:10.11, a
# mysql:8 stand-in); a host MariaDB for the external-DSN tests; a local
# control plane with kwok fake nodes (tools/testenv/cmd/testenv-cluster).
# Runtime state: $TESTENV_DIR (default <repo>/.testenv). Caches (binaries,
# the docker image store, the debootstrap rootfs): $APIMCONF_CACHE_DIR
# (default ~/.cache/apim-conformance); TESTENV_PURGE=1 down removes the image
# store too. Logs: $TESTENV_DIR/logs/<step>.log; a failure names the step
# and its log. Knobs: TESTENV_SKIP_PACKAGES=1, TESTENV_NODES, TESTENV_NODE_CPU,
# TESTENV_NODE_MEMORY, TESTENV_DEBIAN_MIRROR, TESTENV_MARIADB_PORT, TESTENV_APISERVER_PORT, TESTENV_NO_CLUSTER=1
# (docker + MariaDB only).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DOCKER_SOCK="$TESTENV_DIR/docker.sock"
DOCKER_EXEC="$TESTENV_DIR/docker-exec"
DOCKER_DATA="$TESTENV_CACHE/docker-data"
DOCKER_PIDF="$TESTENV_DIR/dockerd.pid"
BRIDGE=apimconf0
BRIDGE_CIDR=10.213.250.1/24
BASE_IMAGE=local/debian:bookworm-minbase
MYSQL_IMAGE=local/mariadb:10.11
MARIADB_DIR="$TESTENV_DIR/mariadb"
MARIADB_PIDF="$TESTENV_DIR/mariadb.pid"
MARIADB_ROOT_PW="apimconf-testenv"
CLUSTER_DIR="$TESTENV_DIR/cluster"
CLUSTER_PIDF="$TESTENV_DIR/cluster.pid"
CLUSTER_BIN="$TESTENV_DIR/bin/testenv-cluster"
ENV_FILE="$TESTENV_DIR/env.sh"
LABEL=apimconf.testenv=true

docker_() { DOCKER_HOST="unix://$DOCKER_SOCK" docker "$@"; }

step() { STEP="$1"; STEP_T0=$(now_ms); log "step $1 ..."; }
step_done() { local t; t="$(took "$STEP_T0")"; log "step $STEP done in $t${1:+ ($1)}"; TIMINGS+=("$STEP=$t"); }
TIMINGS=()

# port_busy PORT: something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- packages
need_cmds=(dockerd containerd runc iptables debootstrap mariadbd mariadb-install-db mariadb-admin docker ip chromium xmllint)
up_packages() {
	step packages
	local missing=() c
	for c in "${need_cmds[@]}"; do command -v "$c" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
	if [ ${#missing[@]} -eq 0 ]; then step_done "already installed"; return; fi
	[ "${TESTENV_SKIP_PACKAGES:-}" = 1 ] && fail packages "" "missing commands: ${missing[*]} (TESTENV_SKIP_PACKAGES=1)"
	[ "$(id -u)" = 0 ] || fail packages "" "missing commands: ${missing[*]}; install as root: apt-get install docker.io containerd runc iptables debootstrap mariadb-server mariadb-client iproute2 chromium libxml2-utils"
	local logf="$TESTENV_LOGS/packages.log"
	log "installing Debian packages (missing: ${missing[*]}); log: $logf"
	{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		docker.io containerd runc iptables debootstrap mariadb-server mariadb-client iproute2 chromium libxml2-utils; } >"$logf" 2>&1 \
		|| fail packages "$logf" "apt-get install failed"
	step_done "installed"
}

# ---------------------------------------------------------------- control plane binaries
up_controlplane_bin() {
	step controlplane-build
	BIN_DIR="$("$TESTENV_REPO/tools/testenv/build-controlplane.sh")" || exit 1
	step_done "$BIN_DIR"
}

# ---------------------------------------------------------------- dockerd
up_dockerd() {
	step dockerd
	if pid_alive "$DOCKER_PIDF" && docker_ version >/dev/null 2>&1; then
		step_done "reused pid $(cat "$DOCKER_PIDF")"; return
	fi
	local logf="$TESTENV_LOGS/dockerd.log"
	[ -S "$DOCKER_SOCK" ] && rm -f "$DOCKER_SOCK"
	mkdir -p "$DOCKER_DATA" "$DOCKER_EXEC"
	# The image store is shared by checkouts through the cache; only one
	# dockerd may use it. dockerd inherits fd 8 and holds the lock while it runs.
	exec 8>"$DOCKER_DATA.lock"
	if ! flock -n 8; then
		fail dockerd "" "the docker image store $DOCKER_DATA is in use by another testenv ($(cat "$DOCKER_DATA.owner" 2>/dev/null || echo unknown)); run make testenv-down there, or set APIMCONF_CACHE_DIR to use a separate cache"
	fi
	echo "TESTENV_DIR=$TESTENV_DIR" >"$DOCKER_DATA.owner"
	# dockerd sets the FORWARD policy to DROP; remember it to restore on down.
	if [ ! -s "$TESTENV_DIR/iptables-forward-policy" ]; then
		PATH="$PATH:/usr/sbin:/sbin" iptables -S FORWARD 2>/dev/null | awk '$1=="-P"{print $3}' >"$TESTENV_DIR/iptables-forward-policy" || true
	fi
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		{ ip link add "$BRIDGE" type bridge && ip addr add "$BRIDGE_CIDR" dev "$BRIDGE" && ip link set "$BRIDGE" up; } >>"$logf" 2>&1 \
			|| fail dockerd "$logf" "could not create bridge $BRIDGE ($BRIDGE_CIDR)"
	fi
	PATH="$PATH:/usr/sbin:/sbin" setsid dockerd \
		--data-root "$DOCKER_DATA" --exec-root "$DOCKER_EXEC" \
		--host "unix://$DOCKER_SOCK" --pidfile "$DOCKER_PIDF" \
		--bridge "$BRIDGE" --ip 127.0.0.1 --userland-proxy=false \
		</dev/null >"$logf" 2>&1 &
	local pid=$! i
	exec 8>&-
	for i in $(seq 1 300); do
		docker_ version >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || fail dockerd "$logf" "dockerd exited during start"
		sleep 0.1
	done
	docker_ version >/dev/null 2>&1 || fail dockerd "$logf" "dockerd did not answer on $DOCKER_SOCK within 30 s"
	echo "$pid" >"$DOCKER_PIDF"
	step_done "pid $pid, socket $DOCKER_SOCK"
}

# ---------------------------------------------------------------- images
image_label() { docker_ image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

up_images() {
	step image-base
	if docker_ image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
		step_done "reused $BASE_IMAGE"
	else
		local logf="$TESTENV_LOGS/image-base.log" tarball="$TESTENV_CACHE/rootfs/debian-bookworm-minbase.tar"
		mkdir -p "$(dirname "$tarball")"
		if [ ! -s "$tarball" ]; then
			local root="$TESTENV_CACHE/rootfs/bookworm.tmp"
			rm -rf "$root"
			log "debootstrap bookworm minbase (~30 s); log: $logf"
			PATH="$PATH:/usr/sbin:/sbin" debootstrap --variant=minbase bookworm "$root" "${TESTENV_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$logf" 2>&1 \
				|| { rm -rf "$root"; fail image-base "$logf" "debootstrap failed"; }
			tar -C "$root" -cf "$tarball.tmp" . >>"$logf" 2>&1 || fail image-base "$logf" "tar of the rootfs failed"
			mv "$tarball.tmp" "$tarball"; rm -rf "$root"
		fi
		docker_ import --change "LABEL $LABEL" - "$BASE_IMAGE" <"$tarball" >>"$logf" 2>&1 || fail image-base "$logf" "docker import failed"
		step_done "built $BASE_IMAGE"
	fi

	step image-mariadb
	local ctx="$TESTENV_REPO/tools/testenv/images/mariadb" hash
	hash="$(cat "$ctx/Dockerfile" "$ctx/entrypoint.sh" | sha256sum | cut -c1-16)"
	if [ "$(image_label "$MYSQL_IMAGE" apimconf.testenv.hash)" = "$hash" ]; then
		step_done "reused $MYSQL_IMAGE"
	else
		local logf="$TESTENV_LOGS/image-mariadb.log"
		docker_ build --network host --label "apimconf.testenv.hash=$hash" -t "$MYSQL_IMAGE" "$ctx" >"$logf" 2>&1 \
			|| fail image-mariadb "$logf" "docker build of $MYSQL_IMAGE failed"
		docker_ image prune -f --filter "label=$LABEL" >>"$logf" 2>&1 || true
		step_done "built $MYSQL_IMAGE"
	fi
}

# ---------------------------------------------------------------- host MariaDB (external-DSN tests)
up_mariadb() {
	step mariadb
	if pid_alive "$MARIADB_PIDF" && [ -s "$MARIADB_DIR/port" ]; then
		MARIADB_PORT="$(cat "$MARIADB_DIR/port")"; step_done "reused pid $(cat "$MARIADB_PIDF"), port $MARIADB_PORT"; return
	fi
	local logf="$TESTENV_LOGS/mariadb.log" p
	rm -rf "$MARIADB_DIR"; mkdir -p "$MARIADB_DIR"
	MARIADB_PORT="${TESTENV_MARIADB_PORT:-}"
	if [ -n "$MARIADB_PORT" ]; then
		port_busy "$MARIADB_PORT" && fail mariadb "" "port 127.0.0.1:$MARIADB_PORT (TESTENV_MARIADB_PORT) is in use"
	else
		for p in $(seq 13306 13399); do port_busy "$p" || { MARIADB_PORT=$p; break; }; done
		[ -n "$MARIADB_PORT" ] || fail mariadb "" "no free port in 13306-13399"
	fi
	PATH="$PATH:/usr/sbin:/sbin" mariadb-install-db --no-defaults --user=root --datadir="$MARIADB_DIR/data" \
		--auth-root-authentication-method=normal --skip-test-db >"$logf" 2>&1 || fail mariadb "$logf" "mariadb-install-db failed"
	PATH="$PATH:/usr/sbin:/sbin" setsid mariadbd --no-defaults --user=root --datadir="$MARIADB_DIR/data" \
		--bind-address=127.0.0.1 --port="$MARIADB_PORT" --socket="$MARIADB_DIR/mysqld.sock" \
		--pid-file="$MARIADB_DIR/mysqld.pid" --log-error="$TESTENV_LOGS/mariadbd.log" --skip-name-resolve \
		</dev/null >>"$logf" 2>&1 &
	local pid=$! i
	echo "$pid" >"$MARIADB_PIDF"
	for i in $(seq 1 300); do
		mariadb-admin --no-defaults --socket="$MARIADB_DIR/mysqld.sock" -uroot ping >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || fail mariadb "$TESTENV_LOGS/mariadbd.log" "mariadbd exited during start"
		sleep 0.1
	done
	mariadb --no-defaults --socket="$MARIADB_DIR/mysqld.sock" -uroot >>"$logf" 2>&1 <<-SQL || fail mariadb "$logf" "could not set the root password"
		CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '$MARIADB_ROOT_PW';
		ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$MARIADB_ROOT_PW';
		GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		ALTER USER 'root'@'localhost' IDENTIFIED BY '$MARIADB_ROOT_PW';
		FLUSH PRIVILEGES;
	SQL
	echo "$MARIADB_PORT" >"$MARIADB_DIR/port"
	step_done "pid $pid, 127.0.0.1:$MARIADB_PORT"
}

# ---------------------------------------------------------------- control plane + kwok
up_cluster() {
	step cluster
	if pid_alive "$CLUSTER_PIDF" && [ -f "$CLUSTER_DIR/ready" ]; then
		step_done "reused pid $(cat "$CLUSTER_PIDF"), $(cat "$CLUSTER_DIR/ready")"; return
	fi
	stop_cluster
	local logf="$TESTENV_LOGS/cluster.log" blog="$TESTENV_LOGS/testenv-cluster-build.log"
	mkdir -p "$(dirname "$CLUSTER_BIN")"
	(cd "$TESTENV_REPO" && go build -o "$CLUSTER_BIN" ./tools/testenv/cmd/testenv-cluster) >"$blog" 2>&1 \
		|| fail cluster "$blog" "go build ./tools/testenv/cmd/testenv-cluster failed"
	mkdir -p "$CLUSTER_DIR"
	APIMCONF_CONTROLPLANE_BIN="$BIN_DIR" setsid "$CLUSTER_BIN" -dir "$CLUSTER_DIR" -bin "$BIN_DIR" \
		-nodes "${TESTENV_NODES:-1}" -node-cpu "${TESTENV_NODE_CPU:-8}" -node-memory "${TESTENV_NODE_MEMORY:-16Gi}" \
		-apiserver-port "${TESTENV_APISERVER_PORT:-0}" \
		</dev/null >"$logf" 2>&1 &
	local pid=$! i
	echo "$pid" >"$CLUSTER_PIDF"
	for i in $(seq 1 1800); do
		[ -f "$CLUSTER_DIR/ready" ] && break
		kill -0 "$pid" 2>/dev/null || fail cluster "$logf" "the local control plane did not start (component logs: $CLUSTER_DIR/logs/)"
		sleep 0.1
	done
	[ -f "$CLUSTER_DIR/ready" ] || fail cluster "$logf" "the local control plane was not ready within 180 s"
	step_done "pid $pid, $(cat "$CLUSTER_DIR/ready")"
}

stop_cluster() {
	stop_pid "$CLUSTER_PIDF" testenv-cluster
	# Children of a killed supervisor (they also die with it through
	# Pdeathsig; this is belt and braces).
	local pf
	for pf in "$CLUSTER_DIR"/pids/*.pid; do [ -e "$pf" ] && stop_pid "$pf" "$(basename "$pf" .pid)"; done
	rm -rf "$CLUSTER_DIR"
}

# ---------------------------------------------------------------- env
write_env() {
	{
		echo "export TESTENV_DIR='$TESTENV_DIR'"
		if [ -n "$BIN_DIR" ]; then
			echo "export KUBECONFIG='$CLUSTER_DIR/kubeconfig'"
			echo "export APIMCONF_CONTROLPLANE_BIN='$BIN_DIR'"
			echo "export KUBEBUILDER_ASSETS='$BIN_DIR'"
		fi
		echo "export DOCKER_HOST='unix://$DOCKER_SOCK'"
		echo "export TESTCONTAINERS_RYUK_DISABLED=true"
		echo "export TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1"
		echo "export APIMCONF_MYSQL_IMAGE='$MYSQL_IMAGE'"
		echo "export APIMCONF_MYSQL_EXTERNAL_DSN='root:$MARIADB_ROOT_PW@tcp(127.0.0.1:$MARIADB_PORT)/'"
	} >"$ENV_FILE"
}

cmd_up() {
	local t0; t0=$(now_ms)
	up_packages
	if [ "${TESTENV_NO_CLUSTER:-}" != 1 ]; then up_controlplane_bin; else BIN_DIR=""; fi
	up_dockerd
	up_images
	up_mariadb
	if [ "${TESTENV_NO_CLUSTER:-}" != 1 ]; then up_cluster; fi
	write_env
	log "testenv up in $(took "$t0"): ${TIMINGS[*]}"
	log "environment (also in $ENV_FILE; load it with: . $ENV_FILE):"
	cat "$ENV_FILE"
}

cmd_env() {
	[ -f "$ENV_FILE" ] || fail env "" "testenv is not up ($ENV_FILE missing); run make testenv-up"
	cat "$ENV_FILE"
}

cmd_down() {
	local t0; t0=$(now_ms)
	stop_cluster
	stop_pid "$MARIADB_PIDF" mariadbd
	rm -rf "$MARIADB_DIR"
	if [ -S "$DOCKER_SOCK" ] && docker_ version >/dev/null 2>&1; then
		local ids
		ids="$(docker_ ps -aq --filter label=org.testcontainers=true; docker_ ps -aq --filter "label=$LABEL")"
		if [ -n "$ids" ]; then
			log "removing containers: $(echo $ids)"
			# shellcheck disable=SC2086
			docker_ rm -f -v $ids >/dev/null 2>&1 || true
		fi
		docker_ network prune -f --filter "label=org.testcontainers=true" >/dev/null 2>&1 || true
		docker_ network prune -f --filter "label=$LABEL" >/dev/null 2>&1 || true
		docker_ volume prune -f >/dev/null 2>&1 || true
	fi
	stop_pid "$DOCKER_PIDF" dockerd
	# Processes left under our exec-root (containerd, shims): by PID.
	local p
	for p in $(pgrep -f -- "$DOCKER_EXEC" 2>/dev/null || true); do
		[ "$p" != $$ ] && kill -TERM "$p" 2>/dev/null || true
	done
	if [ -d "$DOCKER_EXEC" ]; then
		{ grep -o " $DOCKER_EXEC[^ ]*" /proc/mounts 2>/dev/null || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
		rm -rf "$DOCKER_EXEC"
	fi
	rm -f "$DOCKER_SOCK"
	# Our bridge, bridges of user-defined networks (br-<id>) and Docker's
	# iptables chains: only when no other dockerd runs on the machine (another
	# checkout's testenv may be using them).
	if ! pgrep -x dockerd >/dev/null 2>&1; then
		if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE" 2>/dev/null || true; fi
		local b
		for b in $(ip -o link show type bridge 2>/dev/null | awk -F': ' '{print $2}' | grep '^br-' || true); do ip link delete "$b" 2>/dev/null || true; done
		local ipt t rule ch
		ipt="$(command -v iptables || echo /usr/sbin/iptables)"
		if [ -x "$ipt" ]; then
			for t in filter nat; do
				{ "$ipt" -t "$t" -S 2>/dev/null || true; } | { grep -E -- '^-A (FORWARD|PREROUTING|OUTPUT|POSTROUTING|INPUT) .*(DOCKER|'"$BRIDGE"'|br-|'"${BRIDGE_CIDR%.*}"'\.)' || true; } \
					| sed 's/^-A /-D /' | while read -r rule; do eval "\"\$ipt\" -t $t $rule" 2>/dev/null || true; done
				for ch in DOCKER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2 DOCKER-USER; do
					"$ipt" -t "$t" -F "$ch" 2>/dev/null || true
				done
				for ch in DOCKER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2 DOCKER-USER; do
					"$ipt" -t "$t" -X "$ch" 2>/dev/null || true
				done
			done
			if [ -s "$TESTENV_DIR/iptables-forward-policy" ]; then
				"$ipt" -P FORWARD "$(cat "$TESTENV_DIR/iptables-forward-policy")" 2>/dev/null || true
			fi
		fi
	fi
	if [ "${TESTENV_PURGE:-}" = 1 ]; then
		log "TESTENV_PURGE=1: removing the docker image store $DOCKER_DATA"
		rm -rf "$DOCKER_DATA"
	fi
	rm -f "$ENV_FILE" "$TESTENV_DIR/iptables-forward-policy"
	rm -rf "$TESTENV_DIR/bin"
	log "testenv down in $(took "$t0")"
}

cmd_status() {
	local s
	for s in "cluster:$CLUSTER_PIDF" "mariadbd:$MARIADB_PIDF" "dockerd:$DOCKER_PIDF"; do
		if pid_alive "${s#*:}"; then echo "${s%%:*}: running (pid $(cat "${s#*:}"))"; else echo "${s%%:*}: not running"; fi
	done
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) cmd_status ;;
*) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
