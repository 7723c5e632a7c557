// Package platform brings up the platform a suite checks and hands back what
// the checks need: Endpoints, the pattern's capabilities, facts for the
// report, phase durations, and how to collect diagnostics and tear down. The
// emulator, kind and existing clusters all come through here, so checks never
// know which one they talk to.
package platform

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/tools/apimsim/sim"
)

// Phase is a timed step of bringing the platform up.
type Phase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration"`
}

// Platform is a running deployment.
type Platform struct {
	Endpoints    framework.Endpoints
	Capabilities []conformance.Capability
	// Info holds facts for the report: mode, chart and image versions, faults.
	Info   map[string]string
	Phases []Phase
	// ContractViolations is set on the emulator: requests the suite sent, or
	// answers the emulator gave, that break WSO2's published contracts.
	ContractViolations func() []string
	// Diagnose writes what a person needs to debug a failure under dir.
	Diagnose func(ctx context.Context, dir string) error
	// Close tears the platform down (or keeps it, as configured).
	Close func(ctx context.Context) error
}

// KnownFaults lists the emulator's fault names.
func KnownFaults() []string {
	var names []string
	for _, f := range sim.Faults() {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// Up starts or connects to the platform cfg names.
func Up(ctx context.Context, cfg framework.Config, log io.Writer) (*Platform, error) {
	switch cfg.Platform {
	case framework.PlatformSim:
		return upSim(ctx, cfg, log)
	case framework.PlatformKind, framework.PlatformExisting:
		return upCluster(ctx, cfg, log)
	}
	return nil, fmt.Errorf("unknown platform %q: use sim, kind or existing", cfg.Platform)
}

// simCapabilities is what each emulated topology can do.
var simCapabilities = map[int][]conformance.Capability{
	6: {conformance.ResidentKM, conformance.IS7KM},
}

func upSim(ctx context.Context, cfg framework.Config, log io.Writer) (*Platform, error) {
	caps, ok := simCapabilities[cfg.Pattern]
	if !ok {
		return nil, fmt.Errorf("the emulator has no topology for pattern %d yet (it has: %v); run pattern 6, or a real cluster with --platform kind", cfg.Pattern, keys(simCapabilities))
	}
	start := time.Now()
	p, err := sim.Start(ctx, sim.Options{
		Pattern: cfg.Pattern, Faults: cfg.Faults,
		AdminUser: cfg.Admin.Username, AdminPassword: cfg.Admin.Password,
		Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	info := map[string]string{"mode": "emulator", "platform": "tools/apimsim", "pattern": fmt.Sprint(cfg.Pattern)}
	if len(cfg.Faults) > 0 {
		info["faults"] = fmt.Sprint(cfg.Faults)
	}
	return &Platform{
		Endpoints:    p.Endpoints(),
		Capabilities: caps,
		Info:         info,
		Phases:       []Phase{{Name: "emulator", Duration: time.Since(start)}},
		ContractViolations: func() []string {
			var out []string
			for _, v := range p.Violations() {
				out = append(out, fmt.Sprintf("%s %s %s: %s", v.Direction, v.Method, v.Path, v.Detail))
			}
			return out
		},
		Diagnose: func(context.Context, string) error { return nil },
		Close:    func(context.Context) error { return p.Close() },
	}, nil
}

func keys(m map[int][]conformance.Capability) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
