package local

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// controlPlaneModule is the tools module that pins the control plane,
// relative to the repository root.
const controlPlaneModule = "tools/testenv/controlplane"

// cacheBinDir computes the directory tools/testenv/build-controlplane.sh
// builds into; the key is the same as its controlplane_hash (lib.sh): the
// first 16 hex digits of sha256(go.sum, go.mod, cmd/etcd/main.go, recipe line).
func cacheBinDir() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	mod := filepath.Join(root, controlPlaneModule)
	h := sha256.New()
	for _, f := range []string{"go.sum", "go.mod", "cmd/etcd/main.go"} {
		b, err := os.ReadFile(filepath.Join(mod, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	fmt.Fprintf(h, "recipe=1 k8s=%s\n", KubernetesVersion)
	key := hex.EncodeToString(h.Sum(nil))[:16]
	return filepath.Join(cacheRoot(), "controlplane", key, "bin"), nil
}

func cacheRoot() string {
	if d := os.Getenv("APIMCONF_CACHE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "apim-conformance")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "apim-conformance")
}

// repoRoot walks up from the working directory to the go.mod of this module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/apim-conformance/apim-conformance\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root (go.mod of github.com/apim-conformance/apim-conformance) not found above the working directory")
		}
		dir = parent
	}
}
