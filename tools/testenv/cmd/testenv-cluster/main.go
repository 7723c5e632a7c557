// Command testenv-cluster keeps a clusters/local control plane (etcd,
// kube-apiserver, controller-manager, scheduler, kwok with fake nodes) running
// for `make testenv-up` until it gets SIGTERM or SIGINT, then stops it.
// When the cluster is ready it writes DIR/kubeconfig and DIR/ready.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/apim-conformance/apim-conformance/clusters/local"
)

func main() {
	var opts local.Options
	flag.StringVar(&opts.WorkDir, "dir", ".testenv/cluster", "work directory (kubeconfig, logs/, pids/)")
	flag.StringVar(&opts.BinDir, "bin", "", "control-plane binaries (default: APIMCONF_CONTROLPLANE_BIN or the testenv cache)")
	flag.IntVar(&opts.Nodes, "nodes", 1, "kwok fake nodes")
	flag.StringVar(&opts.NodeCPU, "node-cpu", "8", "CPU of each node")
	flag.StringVar(&opts.NodeMemory, "node-memory", "16Gi", "memory of each node")
	flag.IntVar(&opts.APIServerPort, "apiserver-port", 0, "kube-apiserver port (default: a free one)")
	flag.DurationVar(&opts.StartTimeout, "timeout", 90*time.Second, "bound of each readiness wait")
	flag.Parse()
	opts.Log = os.Stderr
	opts.NoSignalHandler = true // handled here

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ready := filepath.Join(opts.WorkDir, "ready")
	_ = os.Remove(ready)
	c, err := local.Start(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv-cluster:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(ready, []byte(c.Server()+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "testenv-cluster:", err)
		_ = c.Stop()
		os.Exit(1)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	code := 0
loop:
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "testenv-cluster: signal received, stopping")
			break loop
		case <-tick.C:
			if err := c.Err(); err != nil {
				fmt.Fprintln(os.Stderr, "testenv-cluster:", err)
				code = 1
				break loop
			}
		}
	}
	_ = os.Remove(ready)
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv-cluster: stop:", err)
		code = 1
	}
	os.Exit(code)
}
