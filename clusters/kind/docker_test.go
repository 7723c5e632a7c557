package kind

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/apim-conformance/apim-conformance/internal/testenvreq"
)

type archiveOps struct{ entries map[string][]string }

func (a *archiveOps) ImageID(nodes.Node, string) (string, error) { return "", fmt.Errorf("absent") }
func (a *archiveOps) LoadArchive(n nodes.Node, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		a.entries[n.String()] = append(a.entries[n.String()], h.Name)
	}
}

// TestPreflightAndSaveAgainstDocker runs the preflight and the image-save half
// of LoadImages against the real engine (the node half is kind's containerd
// import, which needs a kind node).
func TestPreflightAndSaveAgainstDocker(t *testing.T) {
	cli := testenvreq.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r, err := Preflight(ctx, cli, Resources{CPU: 1, MemoryBytes: 256 << 20}, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.NCPU < 1 || r.MemTotal <= 0 || r.NodeImageOK {
		t.Fatalf("report: %+v", r)
	}
	t.Logf("preflight: %+v", r)
	if _, err := Preflight(ctx, cli, Resources{CPU: 4096}, ""); err == nil {
		t.Fatal("4096 CPUs must be too many")
	}

	ref := fmt.Sprintf("local/apimconf-kind-test:%d", time.Now().UnixNano())
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "marker", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	_, _ = tw.Write([]byte("x"))
	_ = tw.Close()
	rc, err := cli.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, ref, client.ImageImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	defer cli.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true})

	ops := &archiveOps{entries: map[string][]string{}}
	p := &fakeProvider{clusters: []string{"t"}, nodes: []nodes.Node{fakeNode{name: "t-control-plane"}}}
	c, err := up(ctx, Options{Name: "t", Reuse: true}.withDefaults(), p, ops, cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadImages(ctx, ref); err != nil {
		t.Fatal(err)
	}
	got := ops.entries["t-control-plane"]
	found := false
	for _, e := range got {
		if e == "manifest.json" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the node did not get a docker-save archive: %v", got)
	}
}
