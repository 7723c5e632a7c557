package kind

import (
	"context"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Resources is what a pattern needs from the Docker engine (the sum of the
// pods' requests plus the kind node's own overhead; see the pattern catalogue).
type Resources struct {
	// CPU in cores (fractions allowed).
	CPU float64
	// MemoryBytes of RAM.
	MemoryBytes int64
}

// PreflightReport is what the preflight found.
type PreflightReport struct {
	DockerHost  string
	ServerOS    string
	NCPU        int
	MemTotal    int64
	NodeImageOK bool // the node image is already in the engine
	// Warnings do not stop the run (e.g. the node image must be pulled).
	Warnings []string
}

// GiB is 1<<30 bytes.
const GiB = int64(1) << 30

// Preflight checks that the Docker engine answers and has the CPU and memory
// the pattern needs (as Docker reports them: Docker Desktop's VM size, not the
// laptop's). Errors name the fix. docker nil means a client from DOCKER_HOST.
// nodeImage empty means DefaultNodeImage.
func Preflight(ctx context.Context, docker DockerAPI, need Resources, nodeImage string) (PreflightReport, error) {
	if docker == nil {
		c, err := client.New(client.FromEnv)
		if err != nil {
			return PreflightReport{}, fmt.Errorf("Docker client: %w: check DOCKER_HOST, or try `make demo` which needs no Docker", err)
		}
		defer c.Close()
		docker = c
	}
	if nodeImage == "" {
		nodeImage = DefaultNodeImage
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
	}
	r := PreflightReport{DockerHost: docker.DaemonHost()}
	if _, err := docker.Ping(ctx, client.PingOptions{}); err != nil {
		return r, fmt.Errorf("Docker is not reachable at %s (%v): start Docker Desktop/dockerd (or set DOCKER_HOST), or try `make demo` which needs no Docker", r.DockerHost, err)
	}
	info, err := docker.Info(ctx, client.InfoOptions{})
	if err != nil {
		return r, fmt.Errorf("Docker at %s answers but `info` failed: %w", r.DockerHost, err)
	}
	r.ServerOS, r.NCPU, r.MemTotal = info.Info.OperatingSystem, info.Info.NCPU, info.Info.MemTotal
	var short []string
	if need.CPU > 0 && float64(r.NCPU) < need.CPU {
		short = append(short, fmt.Sprintf("CPUs: Docker has %d, the pattern needs %s", r.NCPU, trimFloat(need.CPU)))
	}
	if need.MemoryBytes > 0 && r.MemTotal < need.MemoryBytes {
		short = append(short, fmt.Sprintf("memory: Docker has %s, the pattern needs %s", gib(r.MemTotal), gib(need.MemoryBytes)))
	}
	if len(short) > 0 {
		return r, fmt.Errorf("Docker at %s is too small for this pattern: %s. Give Docker more (Docker Desktop: Settings > Resources), pick a smaller pattern, lower the resource requests in the pattern overlay, or try `make demo` which needs no Docker",
			r.DockerHost, strings.Join(short, "; "))
	}
	if _, err := docker.ImageInspect(ctx, nodeImage); err == nil {
		r.NodeImageOK = true
	} else if cerrdefs.IsNotFound(err) {
		r.Warnings = append(r.Warnings, fmt.Sprintf("node image %s is not in Docker yet: kind will pull it (needs access to Docker Hub; ~1 GB)", nodeImage))
	} else {
		r.Warnings = append(r.Warnings, fmt.Sprintf("could not inspect node image %s: %v", nodeImage, err))
	}
	return r, nil
}

func gib(b int64) string {
	return fmt.Sprintf("%.1f GiB", float64(b)/float64(GiB))
}

func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}
