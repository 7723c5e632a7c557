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

// Inspector is the conformance checks' view behind the HTTP surface.
type Inspector = conformance.Inspector

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
	// Inspector looks behind the HTTP surface (rendered deployment.toml,
	// Services, replicas, pod deletion); nil where unsupported.
	Inspector Inspector
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
