package kind

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

func TestDefaultNodeImageMatchesKind(t *testing.T) {
	if DefaultNodeImage != defaults.Image {
		t.Fatalf("DefaultNodeImage %s != kind's default %s: update the constant with the kind version", DefaultNodeImage, defaults.Image)
	}
	if !strings.Contains(DefaultNodeImage, "@sha256:") {
		t.Fatal("the node image must be pinned by digest")
	}
}

func TestConfig(t *testing.T) {
	o := Options{Name: "p6", Workers: 2, ExtraPortMappings: []v1alpha4.PortMapping{{ContainerPort: 30443, HostPort: 9443}}}
	cfg := Config(o)
	if cfg.Name != "p6" || len(cfg.Nodes) != 3 {
		t.Fatalf("%+v", cfg)
	}
	cp := cfg.Nodes[0]
	if cp.Role != v1alpha4.ControlPlaneRole || cp.Image != DefaultNodeImage || cfg.Nodes[2].Role != v1alpha4.WorkerRole {
		t.Fatalf("nodes: %+v", cfg.Nodes)
	}
	if len(cp.ExtraPortMappings) != 1 || cp.ExtraPortMappings[0].ListenAddress != "127.0.0.1" || cp.ExtraPortMappings[0].Protocol != v1alpha4.PortMappingProtocolTCP {
		t.Fatalf("port mappings must default to loopback TCP: %+v", cp.ExtraPortMappings)
	}
	y, err := ConfigYAML(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: kind.x-k8s.io/v1alpha4", "kind: Cluster", "role: control-plane", "listenAddress: 127.0.0.1", "hostPort: 9443", "role: worker"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("config YAML lacks %q:\n%s", want, y)
		}
	}
	if d := (Options{}).withDefaults(); d.Name != DefaultName || !strings.HasSuffix(d.KubeconfigPath, "apimconf-kind-apim-conformance.kubeconfig") {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	t.Setenv("REUSE", "1")
	t.Setenv("KEEP", "true")
	t.Setenv("KIND_CLUSTER_NAME", "mine")
	t.Setenv("KIND_NODE_IMAGE", "kindest/node:x")
	o := OptionsFromEnv(Options{})
	if !o.Reuse || !o.Keep || o.Name != "mine" || o.NodeImage != "kindest/node:x" {
		t.Fatalf("%+v", o)
	}
	t.Setenv("REUSE", "0")
	if OptionsFromEnv(Options{Reuse: true}).Reuse {
		t.Fatal("REUSE=0 must turn reuse off")
	}
}

func TestDecideAndShouldDelete(t *testing.T) {
	if p, err := Decide(Options{Name: "a"}, []string{"b"}); err != nil || p != PlanCreate {
		t.Fatal(p, err)
	}
	if p, err := Decide(Options{Name: "a", Reuse: true}, []string{"a"}); err != nil || p != PlanReuse {
		t.Fatal(p, err)
	}
	if _, err := Decide(Options{Name: "a"}, []string{"a"}); err == nil || !strings.Contains(err.Error(), "REUSE=1") {
		t.Fatalf("existing without reuse: %v", err)
	}
	for _, c := range []struct {
		o               Options
		created, failed bool
		del             bool
	}{
		{Options{}, true, false, true},
		{Options{}, true, true, true},
		{Options{Keep: true}, true, true, false},
		{Options{Keep: true}, true, false, true},
		{Options{Reuse: true}, true, false, false},
		{Options{}, false, false, false},
	} {
		if del, why := ShouldDelete(c.o, c.created, c.failed); del != c.del || (!del && why == "") {
			t.Errorf("%+v created=%v failed=%v: got %v %q", c.o, c.created, c.failed, del, why)
		}
	}
}

type fakeProvider struct {
	clusters  []string
	created   int
	deleted   []string
	createErr error
	nodes     []nodes.Node
}

func (f *fakeProvider) List() ([]string, error) { return f.clusters, nil }
func (f *fakeProvider) Create(name string, _ ...cluster.CreateOption) error {
	if f.createErr != nil {
		return f.createErr
	}
	f.created++
	f.clusters = append(f.clusters, name)
	return nil
}
func (f *fakeProvider) Delete(name, _ string) error { f.deleted = append(f.deleted, name); return nil }
func (f *fakeProvider) KubeConfig(name string, _ bool) (string, error) {
	return `apiVersion: v1
kind: Config
clusters: [{name: kind-` + name + `, cluster: {server: "https://127.0.0.1:6443"}}]
contexts: [{name: kind-` + name + `, context: {cluster: kind-` + name + `, user: u}}]
current-context: kind-` + name + `
users: [{name: u, user: {token: x}}]
`, nil
}
func (f *fakeProvider) ListInternalNodes(string) ([]nodes.Node, error) { return f.nodes, nil }

type fakeNode struct {
	nodes.Node
	name string
}

func (n fakeNode) String() string { return n.name }

type fakeOps struct {
	ids    map[string]map[string]string // node -> image -> id
	loaded map[string]int
}

func (f *fakeOps) ImageID(n nodes.Node, image string) (string, error) {
	if id, ok := f.ids[n.String()][image]; ok {
		return id, nil
	}
	return "", errors.New("not present")
}
func (f *fakeOps) LoadArchive(n nodes.Node, r io.Reader) error {
	b, _ := io.ReadAll(r)
	if string(b) != "TAR" {
		return errors.New("wrong archive")
	}
	f.loaded[n.String()]++
	return nil
}

type fakeDocker struct {
	pingErr error
	info    system.Info
	images  map[string]string // ref -> ID
	saved   [][]string
}

func (f *fakeDocker) DaemonHost() string { return "unix:///fake/docker.sock" }
func (f *fakeDocker) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	return client.PingResult{}, f.pingErr
}
func (f *fakeDocker) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: f.info}, nil
}
func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if id, ok := f.images[ref]; ok {
		return client.ImageInspectResult{InspectResponse: image.InspectResponse{ID: id}}, nil
	}
	return client.ImageInspectResult{}, cerrdefs.ErrNotFound.WithMessage("no such image: " + ref)
}
func (f *fakeDocker) ImageSave(_ context.Context, refs []string, _ ...client.ImageSaveOption) (client.ImageSaveResult, error) {
	f.saved = append(f.saved, refs)
	return io.NopCloser(strings.NewReader("TAR")), nil
}

func TestUpCreateReuseTeardown(t *testing.T) {
	ctx := context.Background()
	p := &fakeProvider{}
	c, err := up(ctx, Options{Name: "p6"}.withDefaults(), p, &fakeOps{}, &fakeDocker{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Created || p.created != 1 {
		t.Fatal("should have created")
	}
	rc, err := c.RESTConfig()
	if err != nil || rc.Host != "https://127.0.0.1:6443" {
		t.Fatalf("rest config: %v %v", rc, err)
	}
	// Second run without REUSE fails with the fix named; with REUSE reuses.
	if _, err := up(ctx, Options{Name: "p6"}.withDefaults(), p, &fakeOps{}, &fakeDocker{}); err == nil || !strings.Contains(err.Error(), "REUSE=1") {
		t.Fatalf("want reuse hint, got %v", err)
	}
	c2, err := up(ctx, Options{Name: "p6", Reuse: true}.withDefaults(), p, &fakeOps{}, &fakeDocker{})
	if err != nil || c2.Created || p.created != 1 {
		t.Fatalf("reuse: %v created=%v", err, c2.Created)
	}
	if kept, err := c2.Teardown(true); err != nil || kept == "" || len(p.deleted) != 0 {
		t.Fatalf("a reused cluster must be kept: %q %v", kept, err)
	}
	if kept, err := c.Teardown(false); err != nil || kept != "" || len(p.deleted) != 1 {
		t.Fatalf("created cluster must be deleted: %q %v", kept, err)
	}
	// Create failure names the node image and KEEP.
	pf := &fakeProvider{createErr: errors.New("pull failed")}
	if _, err := up(ctx, Options{Name: "x"}.withDefaults(), pf, &fakeOps{}, &fakeDocker{}); err == nil || !strings.Contains(err.Error(), DefaultNodeImage) || !strings.Contains(err.Error(), "KEEP=1") {
		t.Fatalf("create error: %v", err)
	}
}

func TestLoadImages(t *testing.T) {
	n1, n2 := fakeNode{name: "p6-control-plane"}, fakeNode{name: "p6-worker"}
	p := &fakeProvider{clusters: []string{"p6"}, nodes: []nodes.Node{n1, n2}}
	ops := &fakeOps{ids: map[string]map[string]string{
		"p6-control-plane": {"local/wso2am-mysql:4.7.0-abc": "sha256:1"},
		"p6-worker":        {"local/wso2am-mysql:4.7.0-abc": "sha256:old"},
	}, loaded: map[string]int{}}
	d := &fakeDocker{images: map[string]string{"local/wso2am-mysql:4.7.0-abc": "sha256:1"}}
	c, err := up(context.Background(), Options{Name: "p6", Reuse: true}.withDefaults(), p, ops, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadImages(context.Background(), "local/wso2am-mysql:4.7.0-abc"); err != nil {
		t.Fatal(err)
	}
	if ops.loaded["p6-control-plane"] != 0 || ops.loaded["p6-worker"] != 1 || len(d.saved) != 1 {
		t.Fatalf("only the node with a stale image loads: %v saved=%v", ops.loaded, d.saved)
	}
	// Already everywhere: no save at all.
	ops.ids["p6-worker"]["local/wso2am-mysql:4.7.0-abc"] = "sha256:1"
	if err := c.LoadImages(context.Background(), "local/wso2am-mysql:4.7.0-abc"); err != nil || len(d.saved) != 1 {
		t.Fatalf("nothing to load: %v saved=%v", err, d.saved)
	}
	if err := c.LoadImages(context.Background(), "local/missing:1"); err == nil || !strings.Contains(err.Error(), "build it first") {
		t.Fatalf("missing image: %v", err)
	}
}

func TestPreflight(t *testing.T) {
	ctx := context.Background()
	need := Resources{CPU: 6, MemoryBytes: 14 * GiB}

	_, err := Preflight(ctx, &fakeDocker{pingErr: errors.New("connection refused")}, need, "")
	if err == nil || !strings.Contains(err.Error(), "Docker is not reachable at unix:///fake/docker.sock") ||
		!strings.Contains(err.Error(), "start Docker Desktop/dockerd") || !strings.Contains(err.Error(), "make demo") {
		t.Fatalf("unreachable: %v", err)
	}
	_, err = Preflight(ctx, &fakeDocker{info: system.Info{NCPU: 4, MemTotal: 8 * GiB}}, need, "")
	if err == nil || !strings.Contains(err.Error(), "CPUs: Docker has 4, the pattern needs 6") ||
		!strings.Contains(err.Error(), "memory: Docker has 8.0 GiB, the pattern needs 14.0 GiB") || !strings.Contains(err.Error(), "Settings > Resources") {
		t.Fatalf("too small: %v", err)
	}
	_, err = Preflight(ctx, &fakeDocker{info: system.Info{NCPU: 8, MemTotal: 8 * GiB}}, Resources{CPU: 2.5, MemoryBytes: 14 * GiB}, "")
	if err == nil || strings.Contains(err.Error(), "CPUs") || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("memory only: %v", err)
	}
	r, err := Preflight(ctx, &fakeDocker{info: system.Info{NCPU: 8, MemTotal: 16 * GiB}}, need, "")
	if err != nil || r.NodeImageOK || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "kind will pull it") {
		t.Fatalf("ok but image missing: %+v %v", r, err)
	}
	r, err = Preflight(ctx, &fakeDocker{info: system.Info{NCPU: 8, MemTotal: 16 * GiB}, images: map[string]string{DefaultNodeImage: "sha256:n"}}, need, "")
	if err != nil || !r.NodeImageOK || len(r.Warnings) != 0 || r.NCPU != 8 {
		t.Fatalf("all good: %+v %v", r, err)
	}
	if trimFloat(2.5) != "2.5" || trimFloat(6) != "6" {
		t.Fatal(trimFloat(2.5), trimFloat(6))
	}
}
