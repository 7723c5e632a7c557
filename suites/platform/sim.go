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

// simCapabilities is what each emulated topology can do.
//
// The all-in-one embeds a traffic manager (its throttling is WSO2's own, not
// a stub), so every pattern with an APIM all-in-one or a TM release has
// traffic-manager. Pattern 6 is left exactly as it was defined (its
// capability set predates the throttling check); it too embeds a TM.
//
// The dedicated key manager of patterns 4 and 5 is the Resident Key Manager
// run on its own node, so those patterns keep resident-km as well.
var simCapabilities = map[int][]conformance.Capability{
	0: {conformance.ResidentKM, conformance.TrafficManager},
	1: {conformance.ResidentKM, conformance.TrafficManager, conformance.HA},
	2: {conformance.ResidentKM, conformance.TrafficManager, conformance.SeparateGateway, conformance.HA},
	3: {conformance.ResidentKM, conformance.TrafficManager, conformance.SeparateGateway, conformance.HA, conformance.ControlPlaneSplit},
	4: {conformance.ResidentKM, conformance.DedicatedKM, conformance.TrafficManager, conformance.SeparateGateway, conformance.HA, conformance.ControlPlaneSplit},
	5: {conformance.ResidentKM, conformance.DedicatedKM, conformance.TrafficManager, conformance.SeparateGateway, conformance.HA},
	6: {conformance.ResidentKM, conformance.IS7KM, conformance.TrafficManager},
}

func upSim(ctx context.Context, cfg framework.Config, log io.Writer) (*Platform, error) {
	caps, ok := simCapabilities[cfg.Pattern]
	if !ok {
		return nil, fmt.Errorf("the emulator has no topology for pattern %d (it has: %v); run a real cluster with --platform kind", cfg.Pattern, keys(simCapabilities))
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
		Inspector:    p,
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
