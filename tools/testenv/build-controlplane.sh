#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# from the Go module proxy (module tools/testenv/controlplane) into a cache
# directory keyed by that module's go.sum, and prints the directory. A warm
# cache skips the build. Log: $TESTENV_DIR/logs/controlplane-build.log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bindir="$(controlplane_bindir)"
mkdir -p "$(dirname "$bindir")"
# One build at a time per cache key; a second caller waits and then reuses.
exec 9>"$(dirname "$bindir")/.lock"
flock 9
want=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
ok=1
for b in "${want[@]}"; do [ -x "$bindir/$b" ] || ok=0; done
if [ "$ok" = 1 ]; then
	log "control-plane binaries cached in $bindir"
	echo "$bindir"
	exit 0
fi

command -v go >/dev/null || fail build-controlplane "" "go is not on PATH"
logf="$TESTENV_LOGS/controlplane-build.log"
tmp="$(dirname "$bindir")/bin.tmp.$$"
rm -rf "$tmp"; mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
log "building control-plane binaries (k8s $K8S_VERSION, etcd, kwok) into $bindir; cold build takes ~5-8 min; log: $logf"
start=$(now_ms)
major=${K8S_VERSION#v}; major=${major%%.*}
minor=${K8S_VERSION#v*.}; minor=${minor%%.*}
date_=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=$date_ -X $p.gitCommit=0000000000000000000000000000000000000000"
done
if ! (cd "$CONTROLPLANE_MOD" && go build -mod=readonly -trimpath -ldflags "$ld" -o "$tmp/" \
	./cmd/etcd \
	k8s.io/kubernetes/cmd/kube-apiserver \
	k8s.io/kubernetes/cmd/kube-controller-manager \
	k8s.io/kubernetes/cmd/kube-scheduler \
	sigs.k8s.io/kwok/cmd/kwok) >"$logf" 2>&1; then
	fail build-controlplane "$logf" "go build of the control-plane tools module ($CONTROLPLANE_MOD) failed"
fi
for b in "${want[@]}"; do [ -x "$tmp/$b" ] || fail build-controlplane "$logf" "binary $b missing after build"; done
"$tmp/kube-apiserver" --version >>"$logf" 2>&1 || fail build-controlplane "$logf" "kube-apiserver --version failed"
rm -rf "$bindir"; mv "$tmp" "$bindir"
log "control-plane binaries built in $(took "$start"): $bindir"
echo "$bindir"
