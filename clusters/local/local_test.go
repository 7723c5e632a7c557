package local

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/internal/testenvreq"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
)

// startCluster starts a local cluster for a test and stops it in
// t.Cleanup; missing binaries skip (or fail with REQUIRE_TESTENV=1).
func startCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	bin, err := DefaultBinDir()
	testenvreq.Require(t, "local control plane binaries (APIMCONF_CONTROLPLANE_BIN)", err)
	if opts.BinDir == "" {
		opts.BinDir = bin
	}
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	opts.Log = testWriter{t}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("TIMING local cluster start (etcd → apiserver → controller-manager, scheduler, kwok → %d node(s) Ready): %s", len(c.Nodes()), time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestHelmInstallOnKwok(t *testing.T) {
	c := startCluster(t, Options{Nodes: 2, NodeCPU: "8", NodeMemory: "16Gi"})
	ctx := context.Background()
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}

	// The nodes are sized like kind nodes.
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 2 {
		t.Fatalf("nodes: got %d, want 2", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		if cpu := n.Status.Allocatable.Cpu().String(); cpu != "8" {
			t.Errorf("node %s cpu %s, want 8", n.Name, cpu)
		}
		if mem := n.Status.Allocatable.Memory().String(); mem != "16Gi" {
			t.Errorf("node %s memory %s, want 16Gi", n.Name, mem)
		}
	}

	// Helm Go SDK v3: install with Wait; kwok makes the pods Ready.
	const ns, name = "demo", "demo"
	settings := cli.New()
	settings.KubeConfig = c.KubeconfigPath()
	settings.SetNamespace(ns)
	cfg := new(action.Configuration)
	if err := cfg.Init(settings.RESTClientGetter(), ns, "secret", t.Logf); err != nil {
		t.Fatal(err)
	}
	chrt, err := loader.Load("testdata/chart")
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(cfg)
	inst.ReleaseName, inst.Namespace = name, ns
	inst.CreateNamespace = true
	inst.Wait = true
	inst.Timeout = 90 * time.Second
	t0 := time.Now()
	rel, err := inst.RunWithContext(ctx, chrt, map[string]any{"replicaCount": 3, "message": "from-test"})
	if err != nil {
		t.Fatalf("helm install: %v (kube-controller-manager log: %s, kwok log: %s)", err, c.LogPath("kube-controller-manager"), c.LogPath("kwok"))
	}
	t.Logf("TIMING helm install to Ready (3 replicas on kwok): %s; release %s status %s", time.Since(t0).Round(time.Millisecond), rel.Name, rel.Info.Status)

	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Status.ReadyReplicas != 3 {
		t.Errorf("deployment ready replicas %d, want 3", dep.Status.ReadyReplicas)
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + name})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		ready := false
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready || p.Spec.NodeName == "" || p.Status.PodIP == "" {
			t.Errorf("pod %s: ready=%v node=%q ip=%q", p.Name, ready, p.Spec.NodeName, p.Status.PodIP)
		}
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, name+"-config", metav1.GetOptions{})
	if err != nil || string(sec.Data["MESSAGE"]) != "from-test" {
		t.Errorf("secret: %v %q", err, sec.Data["MESSAGE"])
	}
	svc, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil || net.ParseIP(svc.Spec.ClusterIP) == nil {
		t.Errorf("service cluster IP: %v %+v", err, svc.Spec.ClusterIP)
	}

	// e2e-framework works with the kubeconfig file.
	ec := envconf.NewWithKubeConfig(c.KubeconfigPath())
	var d appsv1.Deployment
	if err := ec.Client().Resources(ns).Get(ctx, name, ns, &d); err != nil {
		t.Errorf("e2e-framework client: %v", err)
	}
	var list corev1.NodeList
	if err := ec.Client().Resources().List(ctx, &list, resources.WithLabelSelector("type=kwok")); err != nil || len(list.Items) != 2 {
		t.Errorf("e2e-framework node list: %v (%d)", err, len(list.Items))
	}

	list2 := action.NewList(cfg)
	rels, err := list2.Run()
	if err != nil || len(rels) != 1 {
		t.Errorf("helm list: %v (%d releases)", err, len(rels))
	}
	if _, err := action.NewUninstall(cfg).Run(name); err != nil {
		t.Errorf("helm uninstall: %v", err)
	}
}

func TestStopKillsEverything(t *testing.T) {
	bin, err := DefaultBinDir()
	testenvreq.Require(t, "local control plane binaries (APIMCONF_CONTROLPLANE_BIN)", err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{BinDir: bin, NoSignalHandler: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	var pids []int
	for _, comp := range c.components() {
		pids = append(pids, comp.cmd.Process.Pid)
	}
	if len(pids) != len(Binaries) {
		t.Fatalf("%d processes, want %d", len(pids), len(Binaries))
	}
	dir := c.WorkDir()
	t0 := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("TIMING local cluster stop: %s", time.Since(t0).Round(time.Millisecond))
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("pid %d still alive after Stop", pid)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("own work dir %s not removed: %v", dir, err)
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done() not closed after Stop")
	}
}

// fakeBinDir has every binary as a shell script that never becomes ready,
// except those in missing.
func fakeBinDir(t *testing.T, missing ...string) string {
	dir := t.TempDir()
outer:
	for _, b := range Binaries {
		for _, m := range missing {
			if b == m {
				continue outer
			}
		}
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\necho fake $0 never ready\nexec sleep 60\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMissingBinaryNamesStep(t *testing.T) {
	dir := fakeBinDir(t, "kube-apiserver")
	if err := CheckBinDir(dir); err == nil || !strings.Contains(err.Error(), "kube-apiserver") {
		t.Fatalf("CheckBinDir: %v", err)
	}
	_, err := Start(context.Background(), Options{BinDir: dir, NoSignalHandler: true})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "binaries" || !strings.Contains(err.Error(), "kube-apiserver") || !strings.Contains(err.Error(), "make testenv-up") {
		t.Fatalf("want a binaries StepError naming kube-apiserver, got %v", err)
	}
}

func TestComponentNotReadyNamesStepAndLog(t *testing.T) {
	work := t.TempDir()
	_, err := Start(context.Background(), Options{BinDir: fakeBinDir(t), WorkDir: work, NoSignalHandler: true, StartTimeout: 2 * time.Second})
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("want a *StepError, got %v", err)
	}
	// The fake etcd never answers /health: step etcd fails, naming its log.
	if se.Step != "etcd" || se.Log != filepath.Join(work, "logs", "etcd.log") || !strings.Contains(err.Error(), "never ready") {
		t.Fatalf("error does not name step and log: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "pids", "etcd.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file left after a failed start: %v", err)
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = Start(context.Background(), Options{BinDir: fakeBinDir(t), WorkDir: t.TempDir(), APIServerPort: port, NoSignalHandler: true})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "kube-apiserver" || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)+" is in use") {
		t.Fatalf("want a clear port-in-use error for kube-apiserver, got %v", err)
	}
}

// TestSIGINTStopsCluster re-runs this test binary as a child that starts a
// cluster and blocks; SIGINT to the child must stop every component.
func TestSIGINTStopsCluster(t *testing.T) {
	if pidFile := os.Getenv("APIMCONF_LOCAL_SIGINT_HELPER"); pidFile != "" {
		c, err := Start(context.Background(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		var pids []string
		for _, comp := range c.components() {
			pids = append(pids, strconv.Itoa(comp.cmd.Process.Pid))
		}
		if err := os.WriteFile(pidFile, []byte(strings.Join(pids, " ")), 0o644); err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		time.Sleep(time.Minute) // the re-raised SIGINT ends the process first
		return
	}
	bin, err := DefaultBinDir()
	testenvreq.Require(t, "local control plane binaries (APIMCONF_CONTROLPLANE_BIN)", err)
	pidFile := filepath.Join(t.TempDir(), "pids")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSIGINTStopsCluster$", "-test.count=1")
	cmd.Env = append(os.Environ(), "APIMCONF_LOCAL_SIGINT_HELPER="+pidFile, "APIMCONF_CONTROLPLANE_BIN="+bin)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var pids []int
	deadline := time.Now().Add(2 * time.Minute)
	for len(pids) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("helper did not start a cluster within 2 minutes")
		}
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			for _, f := range strings.Fields(string(b)) {
				p, _ := strconv.Atoi(f)
				pids = append(pids, p)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("helper exited after SIGINT: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("helper did not exit within 60 s of SIGINT")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("component pid %d alive after SIGINT", pid)
		}
	}
}

func TestPortRaceRetries(t *testing.T) {
	dir := fakeBinDir(t)
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("#!/bin/sh\necho 'listen tcp 127.0.0.1:1: bind: address already in use'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	_, err := Start(context.Background(), Options{BinDir: dir, WorkDir: t.TempDir(), NoSignalHandler: true, StartTimeout: 5 * time.Second, Log: &log})
	var se *StepError
	if !errors.As(err, &se) || se.Step != "etcd" {
		t.Fatalf("want an etcd StepError, got %v", err)
	}
	if n := strings.Count(log.String(), "retrying on new ports"); n != 2 {
		t.Fatalf("want 2 retries, got %d:\n%s", n, log.String())
	}
}
