// Package local runs a real Kubernetes control plane on loopback for tests:
// etcd, kube-apiserver, kube-controller-manager and kube-scheduler (v1.36.3,
// built from the Go module proxy by tools/testenv) plus kwok, which plays the
// kubelets of fake nodes sized like a kind node. Deployments roll out, pods
// become Ready (kwok sets their status; nothing runs), Services get cluster
// IPs, Helm installs with --wait succeed. It is the platform of the project's
// self-tests and dry runs of the deploy layer.
//
//	c, err := local.Start(ctx, local.Options{Nodes: 1})
//	defer c.Stop()
//	cfg := envconf.NewWithKubeConfig(c.KubeconfigPath())
package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apim-conformance/apim-conformance/tools/testenv/kwokstages"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// KubernetesVersion is the version of the control plane tools/testenv builds.
	KubernetesVersion = "v1.36.3"
	// FakeNodeAnnotation marks the nodes kwok manages.
	FakeNodeAnnotation = "kwok.x-k8s.io/node"
	serviceCIDR        = "10.96.0.0/16"
	serviceIP          = "10.96.0.1"
	podCIDR            = "10.244.0.0/16"
	clusterName        = "apimconf-local"
)

// Binaries the control plane needs in BinDir.
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// Options configure Start. The zero value is a usable one-node cluster.
type Options struct {
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler and kwok. Default: DefaultBinDir() (the env variable
	// APIMCONF_CONTROLPLANE_BIN, else the tools/testenv cache).
	BinDir string
	// Nodes is the number of kwok fake nodes (default 1).
	Nodes int
	// NodeCPU and NodeMemory size each node like a kind node on a
	// workstation (defaults "8" and "16Gi"); NodePods defaults to "110".
	NodeCPU, NodeMemory, NodePods string
	// NodeLabels are added to every node (besides kubernetes.io/hostname,
	// kubernetes.io/os, kubernetes.io/arch and type=kwok).
	NodeLabels map[string]string
	// TaintNodes adds kwok's kwok.x-k8s.io/node=fake:NoSchedule taint. Off by
	// default so that charts schedule as they would on kind.
	TaintNodes bool
	// WorkDir receives certificates, the kubeconfig, etcd data, pid files and
	// one log per component. Default: a new temporary directory, removed by
	// Stop. A given WorkDir is kept (only etcd data and pid files are removed).
	WorkDir string
	// APIServerPort fixes kube-apiserver's port (default: a free one). A taken
	// port is a clear error.
	APIServerPort int
	// StartTimeout bounds each readiness wait (default 60s).
	StartTimeout time.Duration
	// Log receives progress lines (default: discarded).
	Log io.Writer
	// NoSignalHandler disables stopping the cluster on SIGINT/SIGTERM.
	NoSignalHandler bool
}

// Cluster is a running local control plane. Stop it with Stop.
type Cluster struct {
	opts       Options
	workDir    string
	ownWorkDir bool
	kubeconfig []byte
	kcPath     string
	restConfig *rest.Config
	comps      []*component
	nodes      []string
	ports      map[string]int
	keepLogs   bool
	mu         sync.Mutex // guards comps and stopping
	stopping   bool
	stopOnce   sync.Once
	stopErr    error
	stopped    chan struct{}
}

// DefaultBinDir returns the control-plane binary directory: the value of
// APIMCONF_CONTROLPLANE_BIN if set, otherwise the tools/testenv cache
// ($APIMCONF_CACHE_DIR or ~/.cache/apim-conformance)/controlplane/<hash of
// tools/testenv/controlplane/go.sum...>/bin, found from the working directory.
// The error says how to build the binaries when they are missing.
func DefaultBinDir() (string, error) {
	dir := os.Getenv("APIMCONF_CONTROLPLANE_BIN")
	if dir == "" {
		var err error
		if dir, err = cacheBinDir(); err != nil {
			return "", fmt.Errorf("control-plane binaries: APIMCONF_CONTROLPLANE_BIN is not set and %v", err)
		}
	}
	return dir, CheckBinDir(dir)
}

// CheckBinDir reports the first control-plane binary missing (or not
// executable) in dir, with how to build them.
func CheckBinDir(dir string) error {
	for _, b := range Binaries {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err == nil && fi.Mode()&0o111 == 0 {
			err = errors.New("not executable")
		}
		if err != nil {
			return fmt.Errorf("control-plane binary %s missing in %s: %v (build with `make testenv-up` or tools/testenv/build-controlplane.sh)", b, dir, err)
		}
	}
	return nil
}

// Start starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok on free loopback ports, creates the fake nodes and
// waits until they are Ready. On error everything started is stopped and the
// error (a *StepError) names the failed step and its log file.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.NodeCPU == "" {
		opts.NodeCPU = "8"
	}
	if opts.NodeMemory == "" {
		opts.NodeMemory = "16Gi"
	}
	if opts.NodePods == "" {
		opts.NodePods = "110"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	for _, q := range []struct{ name, v string }{{"NodeCPU", opts.NodeCPU}, {"NodeMemory", opts.NodeMemory}, {"NodePods", opts.NodePods}} {
		if _, err := resource.ParseQuantity(q.v); err != nil {
			return nil, &StepError{Step: "options", Err: fmt.Errorf("%s %q: %w", q.name, q.v, err)}
		}
	}
	if opts.BinDir == "" {
		if opts.BinDir, err = DefaultBinDir(); err != nil {
			return nil, &StepError{Step: "binaries", Err: err}
		}
	} else if err := CheckBinDir(opts.BinDir); err != nil {
		return nil, &StepError{Step: "binaries", Err: err}
	}
	c := &Cluster{opts: opts, ports: map[string]int{}, stopped: make(chan struct{})}
	if opts.WorkDir == "" {
		if c.workDir, err = os.MkdirTemp("", "apimconf-local-"); err != nil {
			return nil, &StepError{Step: "workdir", Err: err}
		}
		c.ownWorkDir = true
	} else {
		if c.workDir, err = filepath.Abs(opts.WorkDir); err != nil {
			return nil, &StepError{Step: "workdir", Err: err}
		}
	}
	for _, d := range []string{"logs", "pids", "pki", "etcd-data", "apiserver-certs"} {
		if err := os.MkdirAll(filepath.Join(c.workDir, d), 0o700); err != nil {
			return nil, &StepError{Step: "workdir", Err: err}
		}
	}
	if !opts.NoSignalHandler {
		registerForSignals(c)
	}
	defer func() {
		if err != nil {
			c.keepLogs = true // the error points at them
			_ = c.Stop()
		}
	}()
	t0 := time.Now()
	// Free ports are picked, released and then bound by the child processes;
	// when parallel tests race for one, start again on new ports (bounded).
	for attempt := 1; ; attempt++ {
		err = c.start(ctx)
		if err == nil {
			break
		}
		var se *StepError
		if attempt >= 3 || opts.APIServerPort != 0 || !errors.As(err, &se) || se.Log == "" ||
			!strings.Contains(logTail(se.Log, 30), "address already in use") {
			return nil, err
		}
		c.logf("attempt %d: %v; retrying on new ports", attempt, err)
		if rerr := c.reset(); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
	}
	c.logf("local cluster ready in %s: %d node(s), kubeconfig %s", time.Since(t0).Round(10*time.Millisecond), opts.Nodes, c.kcPath)
	return c, nil
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.opts.Log, "[local] "+format+"\n", args...)
}

func (c *Cluster) path(p ...string) string {
	return filepath.Join(append([]string{c.workDir}, p...)...)
}

func (c *Cluster) bin(name string) string { return filepath.Join(c.opts.BinDir, name) }

func (c *Cluster) run(name string, args ...string) (*component, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping {
		return nil, &StepError{Step: name, Err: errors.New("cluster stopped (signal) during start")}
	}
	comp, err := startComponent(name, c.bin(name), args, c.path("logs"), c.path("pids"), c.workDir)
	if err != nil {
		return nil, err
	}
	c.comps = append(c.comps, comp)
	return comp, nil
}

func (c *Cluster) components() []*component {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*component(nil), c.comps...)
}

func (c *Cluster) start(ctx context.Context) error {
	ports := map[string]int{}
	for _, name := range []string{"etcd-client", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		want := 0
		if name == "kube-apiserver" {
			want = c.opts.APIServerPort
		}
		p, err := freePort(name, want)
		if err != nil {
			return err
		}
		ports[name] = p
	}
	c.ports = ports

	// certificates
	pk, err := newPKI(c.path("pki"))
	if err != nil {
		return &StepError{Step: "certificates", Err: err}
	}
	caPool := x509.NewCertPool()
	caPool.AppendCertsFromPEM(pk.caPEM)
	adminPair, err := tls.X509KeyPair(pk.adminCertPEM, pk.adminKeyPEM)
	if err != nil {
		return &StepError{Step: "certificates", Err: err}
	}

	// etcd
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports["etcd-client"])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports["etcd-peer"])
	etcd, err := c.run("etcd",
		"--name=apimconf", "--data-dir="+c.path("etcd-data"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=apimconf="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	plain := &http.Client{}
	if err := waitFor(ctx, etcd, c.opts.StartTimeout, func(ctx context.Context) error {
		return httpOK(ctx, plain, etcdURL+"/health")
	}); err != nil {
		return &StepError{Step: "etcd", Log: etcd.logPath, Err: err}
	}
	c.logf("etcd ready on %s", etcdURL)

	// kube-apiserver
	apiURL := fmt.Sprintf("https://127.0.0.1:%d", ports["kube-apiserver"])
	api, err := c.run("kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports["kube-apiserver"]),
		"--cert-dir="+c.path("apiserver-certs"),
		"--tls-cert-file="+pk.ServingCert, "--tls-private-key-file="+pk.ServKey,
		"--client-ca-file="+pk.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pk.SAPub, "--service-account-signing-key-file="+pk.SAKey,
		"--service-cluster-ip-range="+serviceCIDR,
		"--authorization-mode=RBAC", "--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount",
		"--enable-priority-and-fairness=false", "--profiling=false",
		"--v=1")
	if err != nil {
		return err
	}
	admin := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: caPool, Certificates: []tls.Certificate{adminPair}, MinVersion: tls.VersionTLS12,
	}}}
	if err := waitFor(ctx, api, c.opts.StartTimeout, func(ctx context.Context) error {
		return httpOK(ctx, admin, apiURL+"/readyz")
	}); err != nil {
		return &StepError{Step: "kube-apiserver", Log: api.logPath, Err: err}
	}
	c.logf("kube-apiserver ready on %s", apiURL)

	// kubeconfig
	if err := c.writeKubeconfig(apiURL, pk); err != nil {
		return &StepError{Step: "kubeconfig", Err: err}
	}

	// controller-manager and scheduler serve /healthz with the apiserver's
	// certificate (our CA, SAN 127.0.0.1), so the probe verifies them too.
	probe := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool, MinVersion: tls.VersionTLS12}}}
	kcm, err := c.run("kube-controller-manager",
		"--kubeconfig="+c.kcPath, "--authentication-kubeconfig="+c.kcPath, "--authorization-kubeconfig="+c.kcPath,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports["kube-controller-manager"]),
		"--tls-cert-file="+pk.ServingCert, "--tls-private-key-file="+pk.ServKey,
		"--cert-dir="+c.path("apiserver-certs"),
		"--leader-elect=false", "--use-service-account-credentials=false",
		"--service-account-private-key-file="+pk.SAKey, "--root-ca-file="+pk.CACert,
		"--cluster-signing-cert-file="+pk.CACert, "--cluster-signing-key-file="+pk.CAKey,
		"--controllers=*,-nodeipam", "--v=1")
	if err != nil {
		return err
	}
	sched, err := c.run("kube-scheduler",
		"--kubeconfig="+c.kcPath, "--authentication-kubeconfig="+c.kcPath, "--authorization-kubeconfig="+c.kcPath,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports["kube-scheduler"]),
		"--tls-cert-file="+pk.ServingCert, "--tls-private-key-file="+pk.ServKey,
		"--cert-dir="+c.path("apiserver-certs"),
		"--leader-elect=false", "--v=1")
	if err != nil {
		return err
	}

	// kwok
	stages := c.path("kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokstages.YAML, 0o644); err != nil {
		return &StepError{Step: "kwok", Err: err}
	}
	kwokURL := fmt.Sprintf("127.0.0.1:%d", ports["kwok"])
	kw, err := c.run("kwok",
		"--kubeconfig="+c.kcPath, "--config="+stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+FakeNodeAnnotation+"=fake",
		"--cidr="+podCIDR, "--node-ip=10.250.0.1",
		"--node-lease-duration-seconds=40",
		"--server-address="+kwokURL)
	if err != nil {
		return err
	}
	for _, w := range []struct {
		comp *component
		url  string
	}{
		{kcm, fmt.Sprintf("https://127.0.0.1:%d/healthz", ports["kube-controller-manager"])},
		{sched, fmt.Sprintf("https://127.0.0.1:%d/healthz", ports["kube-scheduler"])},
		{kw, "http://" + kwokURL + "/healthz"},
	} {
		if err := waitFor(ctx, w.comp, c.opts.StartTimeout, func(ctx context.Context) error {
			return httpOK(ctx, probe, w.url)
		}); err != nil {
			return &StepError{Step: w.comp.name, Log: w.comp.logPath, Err: err}
		}
		c.logf("%s healthy", w.comp.name)
	}

	// fake nodes
	if err := c.createNodes(ctx, kw); err != nil {
		return err
	}
	return nil
}

func httpOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return nil
}

func (c *Cluster) writeKubeconfig(apiURL string, pk *pki) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: apiURL, CertificateAuthorityData: pk.caPEM}
	cfg.AuthInfos[clusterName] = &clientcmdapi.AuthInfo{ClientCertificateData: pk.adminCertPEM, ClientKeyData: pk.adminKeyPEM}
	cfg.Contexts[clusterName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: clusterName}
	cfg.CurrentContext = clusterName
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	c.kubeconfig = b
	c.kcPath = c.path("kubeconfig")
	if err := os.WriteFile(c.kcPath, b, 0o600); err != nil {
		return err
	}
	rc, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		return err
	}
	c.restConfig = rc
	return nil
}

func (c *Cluster) createNodes(ctx context.Context, kw *component) error {
	cs, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return &StepError{Step: "nodes", Err: err}
	}
	res := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(c.opts.NodeCPU),
		corev1.ResourceMemory:           resource.MustParse(c.opts.NodeMemory),
		corev1.ResourcePods:             resource.MustParse(c.opts.NodePods),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	for i := 0; i < c.opts.Nodes; i++ {
		name := fmt.Sprintf("kwok-node-%d", i)
		labels := map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
			"type": "kwok",
		}
		for k, v := range c.opts.NodeLabels {
			labels[k] = v
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Labels:      labels,
				Annotations: map[string]string{FakeNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			},
			Status: corev1.NodeStatus{
				Capacity:    res,
				Allocatable: res,
				NodeInfo: corev1.NodeSystemInfo{
					KubeletVersion: KubernetesVersion, OperatingSystem: "linux", Architecture: "amd64",
					ContainerRuntimeVersion: "kwok",
				},
			},
		}
		if c.opts.TaintNodes {
			node.Spec.Taints = []corev1.Taint{{Key: FakeNodeAnnotation, Value: "fake", Effect: corev1.TaintEffectNoSchedule}}
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return &StepError{Step: "nodes", Err: fmt.Errorf("create node %s: %w", name, err)}
		}
		c.nodes = append(c.nodes, name)
	}
	err = waitFor(ctx, kw, c.opts.StartTimeout, func(ctx context.Context) error {
		for _, n := range c.nodes {
			node, err := cs.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			ready := false
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready = true
				}
			}
			if !ready {
				return fmt.Errorf("node %s is not Ready yet", n)
			}
		}
		return nil
	})
	if err != nil {
		return &StepError{Step: "nodes", Log: kw.logPath, Err: err}
	}
	c.logf("%d kwok node(s) Ready (%s CPU, %s memory each)", len(c.nodes), c.opts.NodeCPU, c.opts.NodeMemory)
	return nil
}

// reset stops the components of a failed start and clears their state so
// that start can run again.
func (c *Cluster) reset() error {
	c.mu.Lock()
	comps := c.comps
	c.comps = nil
	c.mu.Unlock()
	for i := len(comps) - 1; i >= 0; i-- {
		comps[i].stop(10 * time.Second)
	}
	c.nodes = nil
	var errs []error
	for _, d := range []string{"etcd-data", "logs"} {
		errs = append(errs, os.RemoveAll(c.path(d)), os.MkdirAll(c.path(d), 0o700))
	}
	return errors.Join(errs...)
}

// Kubeconfig returns the admin kubeconfig (client certificate of
// system:masters, certificates embedded).
func (c *Cluster) Kubeconfig() []byte { return append([]byte(nil), c.kubeconfig...) }

// KubeconfigPath is the file holding Kubeconfig(); pass it to
// envconf.NewWithKubeConfig, helm's cli settings or KUBECONFIG.
func (c *Cluster) KubeconfigPath() string { return c.kcPath }

// RESTConfig returns a copy of the admin REST config.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.restConfig) }

// Clientset returns a typed client for the cluster.
func (c *Cluster) Clientset() (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(c.RESTConfig())
}

// Nodes returns the names of the fake nodes.
func (c *Cluster) Nodes() []string { return append([]string(nil), c.nodes...) }

// WorkDir is where certificates, logs (WorkDir/logs/<component>.log) and
// pid files live.
func (c *Cluster) WorkDir() string { return c.workDir }

// LogPath returns the log file of a component ("etcd", "kube-apiserver",
// "kube-controller-manager", "kube-scheduler", "kwok").
func (c *Cluster) LogPath(component string) string { return c.path("logs", component+".log") }

// Server is the https URL of kube-apiserver.
func (c *Cluster) Server() string { return c.restConfig.Host }

// Done is closed when the cluster has been stopped (by Stop or a signal).
func (c *Cluster) Done() <-chan struct{} { return c.stopped }

// Err reports a component that exited on its own (nil while all run).
func (c *Cluster) Err() error {
	for _, comp := range c.components() {
		if done, err := comp.exited(); done {
			select {
			case <-c.stopped:
				return nil
			default:
			}
			return &StepError{Step: comp.name, Log: comp.logPath, Err: fmt.Errorf("exited: %v", err)}
		}
	}
	return nil
}

// Stop stops every process in reverse start order (SIGTERM, then SIGKILL
// after 10 s; by PID and process group), removes etcd data and pid files,
// and removes WorkDir if Start created it. Safe to call more than once and
// on a partially started cluster.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	c.stopOnce.Do(func() {
		unregisterForSignals(c)
		c.mu.Lock()
		c.stopping = true
		comps := append([]*component(nil), c.comps...)
		c.mu.Unlock()
		for i := len(comps) - 1; i >= 0; i-- {
			comps[i].stop(10 * time.Second)
		}
		var errs []error
		if c.workDir != "" {
			if c.ownWorkDir && !c.keepLogs {
				errs = append(errs, os.RemoveAll(c.workDir))
			} else {
				errs = append(errs, os.RemoveAll(c.path("etcd-data")), os.RemoveAll(c.path("pids")))
			}
		}
		c.stopErr = errors.Join(errs...)
		close(c.stopped)
		c.logf("local cluster stopped")
	})
	return c.stopErr
}
