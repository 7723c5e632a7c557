package existing

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/apim-conformance/apim-conformance/clusters/local"
	"github.com/apim-conformance/apim-conformance/internal/testenvreq"
)

// TestOpenLocalControlPlane opens the local control plane's kubeconfig as an
// "existing" cluster and talks to it.
func TestOpenLocalControlPlane(t *testing.T) {
	bin, err := local.DefaultBinDir()
	testenvreq.Require(t, "local control plane binaries", err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lc, err := local.Start(ctx, local.Options{BinDir: bin})
	if err != nil {
		t.Fatalf("start local control plane: %v", err)
	}
	defer lc.Stop()
	c, err := Open(Options{Kubeconfig: lc.KubeconfigPath()})
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != lc.Server() {
		t.Fatalf("server %s != %s", c.Server, lc.Server())
	}
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != local.KubernetesVersion {
		t.Fatalf("version %s", v.GitVersion)
	}
}
