// Package kind creates, reuses and deletes the kind cluster a pattern runs on,
// through the sigs.k8s.io/kind Go library (no kind binary), loads locally
// built images into its nodes, and checks beforehand that Docker is there and
// big enough for the pattern.
//
// Note: kind's Docker node provider drives the engine through the `docker`
// CLI (it ships with every Docker install); image saving, inspection and the
// preflight use the Docker API directly.
//
// A real Create needs the kindest/node image, that is, a registry or a
// pre-loaded image. The machines this project's CI runs on have neither, so
// only the logic around kind is unit-tested here (configuration, reuse and
// keep decisions, image loading decisions, preflight messages), with fakes;
// the real create runs with `make test-pattern-6` on a laptop or in nightly CI.
package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"
	"sigs.k8s.io/yaml"
)

// DefaultNodeImage is kind v0.33.0's default node image
// (sigs.k8s.io/kind/pkg/apis/config/defaults.Image in v0.33.0): Kubernetes
// v1.37.0, pinned by digest. Change it together with the kind version in
// go.mod; a test checks that they agree.
const DefaultNodeImage = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"

// DefaultName is the cluster name when Options.Name is empty.
const DefaultName = "apim-conformance"

// Options configure the cluster.
type Options struct {
	// Name of the kind cluster (DefaultName when empty).
	Name string
	// NodeImage (DefaultNodeImage when empty).
	NodeImage string
	// Reuse an existing cluster of that name instead of failing (REUSE=1);
	// a reused or reusable cluster is never deleted by Teardown.
	Reuse bool
	// Keep the cluster when the run failed, for inspection (KEEP=1).
	Keep bool
	// ExtraPortMappings publish node ports on the host (ListenAddress
	// defaults to 127.0.0.1: nothing is exposed beyond loopback).
	ExtraPortMappings []v1alpha4.PortMapping
	// Workers is the number of worker nodes besides the control plane.
	Workers int
	// KubeconfigPath is where kind writes the kubeconfig; default a file in
	// the temp dir, so the user's ~/.kube/config is never touched.
	KubeconfigPath string
	// WaitReady bounds the wait for the control plane (default 5 min, or
	// what is left of the context's deadline).
	WaitReady time.Duration
	// Logf receives kind's progress (nil: silent).
	Logf func(format string, args ...any)
}

// OptionsFromEnv fills Reuse from REUSE, Keep from KEEP, Name from
// KIND_CLUSTER_NAME and NodeImage from KIND_NODE_IMAGE, on top of o.
func OptionsFromEnv(o Options) Options {
	if b, ok := envBool("REUSE"); ok {
		o.Reuse = b
	}
	if b, ok := envBool("KEEP"); ok {
		o.Keep = b
	}
	if v := os.Getenv("KIND_CLUSTER_NAME"); v != "" {
		o.Name = v
	}
	if v := os.Getenv("KIND_NODE_IMAGE"); v != "" {
		o.NodeImage = v
	}
	return o
}

func envBool(k string) (bool, bool) {
	v, ok := os.LookupEnv(k)
	if !ok || v == "" {
		return false, false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return v == "yes" || v == "y", true
	}
	return b, true
}

func (o Options) withDefaults() Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.NodeImage == "" {
		o.NodeImage = DefaultNodeImage
	}
	if o.KubeconfigPath == "" {
		o.KubeconfigPath = filepath.Join(os.TempDir(), "apimconf-kind-"+o.Name+".kubeconfig")
	}
	return o
}

// Config renders the kind cluster configuration for o.
func Config(o Options) *v1alpha4.Cluster {
	o = o.withDefaults()
	cfg := &v1alpha4.Cluster{TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"}, Name: o.Name}
	cp := v1alpha4.Node{Role: v1alpha4.ControlPlaneRole, Image: o.NodeImage}
	for _, m := range o.ExtraPortMappings {
		if m.ListenAddress == "" {
			m.ListenAddress = "127.0.0.1"
		}
		if m.Protocol == "" {
			m.Protocol = v1alpha4.PortMappingProtocolTCP
		}
		cp.ExtraPortMappings = append(cp.ExtraPortMappings, m)
	}
	cfg.Nodes = append(cfg.Nodes, cp)
	for i := 0; i < o.Workers; i++ {
		cfg.Nodes = append(cfg.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: o.NodeImage})
	}
	return cfg
}

// ConfigYAML is Config as YAML (what `kind create cluster --config` reads);
// written into reports for reproduction.
func ConfigYAML(o Options) ([]byte, error) {
	return yaml.Marshal(Config(o))
}

// provider is the part of *cluster.Provider used here.
type provider interface {
	List() ([]string, error)
	Create(name string, options ...cluster.CreateOption) error
	Delete(name, explicitKubeconfigPath string) error
	KubeConfig(name string, internal bool) (string, error)
	ListInternalNodes(name string) ([]nodes.Node, error)
}

// nodeOps are the in-node operations of LoadImages.
type nodeOps interface {
	ImageID(n nodes.Node, image string) (string, error)
	LoadArchive(n nodes.Node, archive io.Reader) error
}

type kindNodeOps struct{}

func (kindNodeOps) ImageID(n nodes.Node, image string) (string, error) {
	return nodeutils.ImageID(n, image)
}
func (kindNodeOps) LoadArchive(n nodes.Node, r io.Reader) error {
	return nodeutils.LoadImageArchive(n, r)
}

// DockerAPI is the part of the Docker client used here.
type DockerAPI interface {
	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageSave(ctx context.Context, images []string, opts ...client.ImageSaveOption) (client.ImageSaveResult, error)
	DaemonHost() string
}

// Cluster is a kind cluster created or reused by Up.
type Cluster struct {
	Name string
	// Created is true when Up created the cluster (false: reused).
	Created bool

	opts       Options
	prov       provider
	ops        nodeOps
	docker     DockerAPI
	kubeconfig []byte
}

// Plan is what Up will do for a cluster of that name.
type Plan int

const (
	// PlanCreate creates a new cluster.
	PlanCreate Plan = iota
	// PlanReuse uses the existing cluster.
	PlanReuse
)

// Decide returns what Up does given the existing clusters, or an error that
// names the fix.
func Decide(o Options, existing []string) (Plan, error) {
	o = o.withDefaults()
	if !slices.Contains(existing, o.Name) {
		return PlanCreate, nil
	}
	if o.Reuse {
		return PlanReuse, nil
	}
	return 0, fmt.Errorf("a kind cluster named %q already exists: run with REUSE=1 to reuse it, or delete it (a previous KEEP=1 run may have left it)", o.Name)
}

// ShouldDelete says whether Teardown deletes the cluster: a reused cluster,
// or any cluster when REUSE=1, is kept for the next run; with KEEP=1 a failed
// run keeps it for inspection; otherwise it is deleted.
func ShouldDelete(o Options, created, failed bool) (bool, string) {
	switch {
	case !created:
		return false, "the cluster was reused, not created by this run"
	case o.Reuse:
		return false, "REUSE=1: kept for the next run"
	case o.Keep && failed:
		return false, "KEEP=1 and the run failed: kept for inspection"
	}
	return true, ""
}

type logAdapter struct{ f func(string, ...any) }

func (l logAdapter) Warn(m string)                      { l.f("kind: warning: %s", m) }
func (l logAdapter) Warnf(f string, a ...any)           { l.f("kind: warning: "+f, a...) }
func (l logAdapter) Error(m string)                     { l.f("kind: error: %s", m) }
func (l logAdapter) Errorf(f string, a ...any)          { l.f("kind: error: "+f, a...) }
func (l logAdapter) V(kindlog.Level) kindlog.InfoLogger { return l }
func (l logAdapter) Info(m string)                      { l.f("kind: %s", m) }
func (l logAdapter) Infof(f string, a ...any)           { l.f("kind: "+f, a...) }
func (l logAdapter) Enabled() bool                      { return true }

func newProvider(o Options) provider {
	var logger kindlog.Logger = kindlog.NoopLogger{}
	if o.Logf != nil {
		logger = logAdapter{o.Logf}
	}
	return cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(logger))
}

// Up creates the cluster, or reuses it when Options.Reuse is set and it
// exists, and reads its kubeconfig. docker nil means a client from DOCKER_HOST.
func Up(ctx context.Context, o Options, docker DockerAPI) (*Cluster, error) {
	o = o.withDefaults()
	if docker == nil {
		c, err := client.New(client.FromEnv)
		if err != nil {
			return nil, fmt.Errorf("kind: docker client: %w", err)
		}
		docker = c
	}
	return up(ctx, o, newProvider(o), kindNodeOps{}, docker)
}

func up(ctx context.Context, o Options, p provider, ops nodeOps, docker DockerAPI) (*Cluster, error) {
	c := &Cluster{Name: o.Name, opts: o, prov: p, ops: ops, docker: docker}
	existing, err := p.List()
	if err != nil {
		return nil, fmt.Errorf("kind: list clusters: %w (is Docker running?)", err)
	}
	plan, err := Decide(o, existing)
	if err != nil {
		return nil, err
	}
	if plan == PlanCreate {
		wait := o.WaitReady
		if wait <= 0 {
			wait = 5 * time.Minute
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			wait = time.Until(dl)
		}
		if wait <= 0 {
			return nil, fmt.Errorf("kind: create cluster %q: %w", o.Name, context.DeadlineExceeded)
		}
		// kind keeps the node containers on failure only with Keep, so a
		// failed create can be inspected (`docker logs <name>-control-plane`).
		err := p.Create(o.Name,
			cluster.CreateWithV1Alpha4Config(Config(o)),
			cluster.CreateWithRetain(o.Keep),
			cluster.CreateWithWaitForReady(wait),
			cluster.CreateWithKubeconfigPath(o.KubeconfigPath),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		)
		if err != nil {
			return nil, fmt.Errorf("kind: create cluster %q with node image %s: %w (the node image must be pullable or already in Docker; KEEP=1 keeps the failed nodes for `docker logs`)", o.Name, o.NodeImage, err)
		}
		c.Created = true
	}
	kc, err := p.KubeConfig(o.Name, false)
	if err != nil {
		return c, fmt.Errorf("kind: kubeconfig of %q: %w", o.Name, err)
	}
	c.kubeconfig = []byte(kc)
	return c, nil
}

// Kubeconfig returns the cluster's kubeconfig (external, 127.0.0.1 API address).
func (c *Cluster) Kubeconfig() []byte { return c.kubeconfig }

// RESTConfig returns a client configuration for the cluster.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(c.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kind %q: kubeconfig: %w", c.Name, err)
	}
	return cfg, nil
}

// Delete deletes the cluster unconditionally.
func (c *Cluster) Delete() error {
	if err := c.prov.Delete(c.Name, c.opts.KubeconfigPath); err != nil {
		return fmt.Errorf("kind: delete cluster %q: %w", c.Name, err)
	}
	return nil
}

// Teardown deletes the cluster unless ShouldDelete says to keep it; it
// returns why it was kept ("" when deleted).
func (c *Cluster) Teardown(failed bool) (kept string, err error) {
	del, why := ShouldDelete(c.opts, c.Created, failed)
	if !del {
		return why, nil
	}
	return "", c.Delete()
}

// LoadImages loads locally built images (present in the Docker engine) into
// every node that does not already have them with the same ID, like
// `kind load docker-image`: the images are saved through the Docker API into
// one archive and imported with the nodes' containerd.
func (c *Cluster) LoadImages(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	ns, err := c.prov.ListInternalNodes(c.Name)
	if err != nil {
		return fmt.Errorf("kind %q: list nodes: %w", c.Name, err)
	}
	if len(ns) == 0 {
		return fmt.Errorf("kind %q: no nodes: is the cluster running?", c.Name)
	}
	need := map[string]nodes.Node{}
	for _, name := range names {
		insp, err := c.docker.ImageInspect(ctx, name)
		if err != nil {
			return fmt.Errorf("kind: load image %s: not in the local Docker engine (build it first, see fixtures/images): %w", name, err)
		}
		for _, n := range ns {
			id, err := c.ops.ImageID(n, name)
			if err != nil || id != insp.ID {
				need[n.String()] = n
			}
		}
	}
	if len(need) == 0 {
		return nil
	}
	f, err := os.CreateTemp("", "apimconf-images-*.tar")
	if err != nil {
		return fmt.Errorf("kind: load images: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rc, err := c.docker.ImageSave(ctx, names)
	if err != nil {
		return fmt.Errorf("kind: save images %s: %w", strings.Join(names, ", "), err)
	}
	_, err = io.Copy(f, rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("kind: save images %s: %w", strings.Join(names, ", "), err)
	}
	keys := make([]string, 0, len(need))
	for k := range need {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var errs []error
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("kind: load images: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if err := c.ops.LoadArchive(need[k], f); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("kind: load images %s: %w", strings.Join(names, ", "), errors.Join(errs...))
	}
	return nil
}
