// Package kwokstages holds kwok v0.8.0's own Stage configs (node initialize,
// node heartbeat with lease, pod ready/complete/delete), vendored from
// sigs.k8s.io/kwok@v0.8.0/kustomize/stage. kwok v0.8.0 exits with
// "no stages found" unless it is given Stage configs.
package kwokstages

import _ "embed"

// YAML is the multi-document Stage config to pass to kwok with --config.
//
//go:embed stages.yaml
var YAML []byte
