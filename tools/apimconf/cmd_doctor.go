package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apim-conformance/apim-conformance/clusters/kind"
	"github.com/apim-conformance/apim-conformance/fixtures/patterns"
)

func init() {
	register(command{Name: "doctor", Summary: "check prerequisites for a real run (Docker, CPU/RAM vs the pattern, Go, disk) and name the fixes", Run: doctorCmd})
}

// minDiskGiB: the kind node image (~1 GB), APIM and IS images and their
// derived copies (~4-5 GB), MySQL, Helm/artifact caches and reports.
const minDiskGiB = 15

type doctorCheck struct {
	name, status, detail, fix string
}

func doctorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pattern := fs.Int("pattern", 6, "pattern whose CPU/memory needs are checked")
	platform := fs.String("platform", "kind", "kind (needs Docker) or existing (needs a kubeconfig only)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: apimconf doctor [--pattern 6] [--platform kind]

Checks what a real run needs before spending 20 minutes on it: a reachable
Docker engine with enough CPU and memory for the pattern (as Docker sees
them: Docker Desktop's VM, not the laptop), the Go toolchain, and free disk
for images and caches. Every problem comes with its fix. Exit status 1 when a
required check fails; warnings do not fail.

Examples:
  apimconf doctor                 # pattern 6 on kind, what make test-pattern-6 checks first
  apimconf doctor --pattern 6 --platform existing

No Docker? 'make demo' runs pattern 6 against the built-in emulator with Go only.

Flags:`)
		fs.PrintDefaults()
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	p, err := patterns.Get(*pattern)
	if err != nil {
		fmt.Fprintln(stderr, "apimconf doctor:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	var checks []doctorCheck
	checks = append(checks, goCheck())
	if *platform == "kind" {
		checks = append(checks, dockerChecks(ctx, p)...)
	}
	checks = append(checks, diskCheck())

	failed := false
	fmt.Fprintf(stdout, "apimconf doctor: pattern %d (%s) on %s\n", p.Number, p.Name, *platform)
	for _, c := range checks {
		fmt.Fprintf(stdout, "  [%-4s] %-8s %s\n", c.status, c.name, c.detail)
		if c.fix != "" {
			fmt.Fprintf(stdout, "           fix: %s\n", c.fix)
		}
		if c.status == "FAIL" {
			failed = true
		}
	}
	if failed {
		fmt.Fprintln(stderr, "apimconf doctor: prerequisites missing (see fix lines above). Without Docker, `make demo` runs pattern 6 against the emulator.")
		return 1
	}
	fmt.Fprintln(stdout, "All required checks passed.")
	return 0
}

func goCheck() doctorCheck {
	v := runtime.Version()
	c := doctorCheck{name: "go", status: "ok", detail: "built with " + v}
	if !goAtLeast(v, 1, 26) {
		c.status, c.fix = "FAIL", "install Go 1.26 or newer (https://go.dev/dl/); go.mod requires it"
	}
	if _, err := exec.LookPath("go"); err != nil {
		c.status = "warn"
		c.detail += "; `go` is not on PATH"
		c.fix = "put the Go toolchain on PATH (make targets call `go run`)"
	}
	return c
}

// goAtLeast parses "go1.26.8" (devel builds pass).
func goAtLeast(v string, major, minor int) bool {
	v = strings.TrimPrefix(v, "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return true
	}
	return ma > major || (ma == major && mi >= minor)
}

func dockerChecks(ctx context.Context, p *patterns.Pattern) []doctorCheck {
	need := kind.Resources{CPU: float64(p.Needs.Minimum.CPUMillis) / 1000, MemoryBytes: p.Needs.Minimum.MemoryMiB << 20}
	rep, err := kind.Preflight(ctx, nil, need, "")
	if err != nil {
		if rep.NCPU == 0 {
			return []doctorCheck{{name: "docker", status: "FAIL", detail: err.Error(),
				fix: "start Docker (Docker Desktop, colima or dockerd) or point DOCKER_HOST at it; or run `make demo`, which needs no Docker"}}
		}
		return []doctorCheck{
			{name: "docker", status: "ok", detail: fmt.Sprintf("reachable at %s (%s)", rep.DockerHost, rep.ServerOS)},
			{name: "cpu/ram", status: "FAIL", detail: err.Error(), fix: fmt.Sprintf("give Docker at least %s (Docker Desktop: Settings > Resources); recommended %s", res(p.Needs.Minimum), res(p.Needs.Recommended))},
		}
	}
	out := []doctorCheck{{name: "docker", status: "ok", detail: fmt.Sprintf("reachable at %s (%s)", rep.DockerHost, rep.ServerOS)}}
	size := doctorCheck{name: "cpu/ram", status: "ok", detail: fmt.Sprintf("Docker has %d CPU / %.1f GiB; pattern %d needs at least %s", rep.NCPU, float64(rep.MemTotal)/float64(kind.GiB), p.Number, res(p.Needs.Minimum))}
	if float64(rep.NCPU)*1000 < float64(p.Needs.Recommended.CPUMillis) || rep.MemTotal < p.Needs.Recommended.MemoryMiB<<20 {
		size.status = "warn"
		size.fix = fmt.Sprintf("below the recommended %s: expect slow starts (APIM takes 5-7 min on small nodes); raise Docker's resources if waits time out", res(p.Needs.Recommended))
	}
	out = append(out, size)
	for _, w := range rep.Warnings {
		out = append(out, doctorCheck{name: "images", status: "warn", detail: w})
	}
	return out
}

func diskCheck() doctorCheck {
	dir := os.TempDir()
	if d, err := os.UserCacheDir(); err == nil {
		if _, err := os.Stat(d); err == nil {
			dir = d
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return doctorCheck{name: "disk", status: "warn", detail: "could not read free space of " + dir + ": " + err.Error()}
	}
	free := float64(st.Bavail) * float64(st.Bsize) / float64(kind.GiB)
	c := doctorCheck{name: "disk", status: "ok", detail: fmt.Sprintf("%.1f GiB free in %s (Docker's own disk is checked by Docker)", free, dir)}
	if free < minDiskGiB {
		c.status = "warn"
		c.fix = fmt.Sprintf("free at least %d GiB (images, kind node, caches); `docker system prune` reclaims unused images", minDiskGiB)
	}
	return c
}
