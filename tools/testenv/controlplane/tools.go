//go:build tools

// Package controlplane pins the control-plane binaries that tools/testenv builds:
// kube-apiserver, kube-controller-manager and kube-scheduler (k8s.io/kubernetes
// v1.36.3), kwok v0.8.0 and etcd v3.6.8 (cmd/etcd). It is never built itself.
package controlplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
