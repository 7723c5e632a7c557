// Package conformance is the check catalogue. Each check is data (a stable ID,
// a description, the capabilities it needs, labels, an owner) plus a body
// written with Gomega. The same body runs under Ginkgo (the pattern suites) and
// under Run, a plain in-process runner used by the fault matrix and benchmarks.
package conformance

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/onsi/gomega"
)

// Capability is something a deployed pattern can do. Checks declare what they
// need; a check whose needs are not met is skipped with the reason.
type Capability string

// The closed vocabulary of capabilities.
const (
	ResidentKM        Capability = "resident-km"         // APIM's built-in key manager issues tokens
	DedicatedKM       Capability = "dedicated-km"        // a separate APIM key manager node issues tokens
	IS7KM             Capability = "is7-km"              // WSO2 Identity Server 7 is the key manager
	SeparateGateway   Capability = "separate-gateway"    // the gateway runs apart from the control plane
	TrafficManager    Capability = "traffic-manager"     // a traffic manager enforces throttling
	HA                Capability = "ha"                  // components run with more than one replica
	ControlPlaneSplit Capability = "control-plane-split" // control plane and traffic manager are separate
)

// Capabilities lists the vocabulary; labels and pattern data are checked against it.
var Capabilities = []Capability{ResidentKM, DedicatedKM, IS7KM, SeparateGateway, TrafficManager, HA, ControlPlaneSplit}

// Check is one conformance check.
type Check struct {
	ID          string
	Description string
	Requires    []Capability
	Labels      []string // Ginkgo labels: area (portal, token, jwks, km, gateway, revocation) and smoke
	Owner       string
	Body        func(t *T)
}

// Missing returns the required capabilities that caps lacks.
func (c Check) Missing(caps []Capability) []Capability {
	var missing []Capability
	for _, r := range c.Requires {
		found := false
		for _, h := range caps {
			if h == r {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, r)
		}
	}
	return missing
}

// SkipReason explains why c does not apply, or "" when it does.
func (c Check) SkipReason(pattern int, caps []Capability) string {
	m := c.Missing(caps)
	if len(m) == 0 {
		return ""
	}
	names := make([]string, len(m))
	for i, x := range m {
		names[i] = string(x)
	}
	return fmt.Sprintf("not applicable: needs capability %s, which pattern %d does not have", strings.Join(names, ", "), pattern)
}

// T is what a check body gets: Gomega assertions bound to the runner, the
// environment, a context with the check's deadline, and report entries.
type T struct {
	gomega.Gomega
	Ctx context.Context
	Env *Env
	// ReportFn records a measured figure (for example revocation latency).
	ReportFn func(name string, value any)
	// LogFn prints a progress line.
	LogFn func(format string, args ...any)
	// SkipFn stops the check as skipped with a reason (the runner's own
	// skip); nil: Skip panics with a value Run recognises.
	SkipFn func(reason string)
}

// skipped is the panic value of Skip when the runner gives no SkipFn.
type skipped struct{ reason string }

// Skip stops the check as skipped, for conditions that only the run's
// configuration knows (opt-in disruptive checks); capabilities are handled
// before the body runs.
func (t *T) Skip(reason string) {
	if t.SkipFn != nil {
		t.SkipFn(reason)
	}
	panic(skipped{reason})
}

// Report records a named figure in the run report.
func (t *T) Report(name string, value any) {
	if t.ReportFn != nil {
		t.ReportFn(name, value)
	}
}

// Logf prints a progress line.
func (t *T) Logf(format string, args ...any) {
	if t.LogFn != nil {
		t.LogFn(format, args...)
	}
}

// Require fails the check when a prerequisite failed, naming it.
func (t *T) Require(err error, prerequisite string) {
	t.Expect(err).NotTo(gomega.HaveOccurred(), "prerequisite failed: "+prerequisite)
}

// Catalogue is every check, in run order.
func Catalogue() []Check {
	all := append([]Check{}, portalChecks()...)
	all = append(all, tokenChecks()...)
	all = append(all, keyManagerChecks()...)
	all = append(all, gatewayChecks()...)
	all = append(all, revocationChecks()...)
	all = append(all, topologyChecks()...)
	return all
}

// ByID returns the check with that ID.
func ByID(id string) (Check, bool) {
	for _, c := range Catalogue() {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// IDs returns the sorted IDs of checks.
func IDs(checks []Check) []string {
	ids := make([]string, len(checks))
	for i, c := range checks {
		ids[i] = c.ID
	}
	sort.Strings(ids)
	return ids
}

// Budget is the deadline of one check: long enough for the slowest wait a
// check can contain (deploy propagation, key-manager propagation, first
// invocation, revocation), bounded all the same.
func Budget(env *Env) time.Duration {
	to := env.Config.Timeouts
	return to.Scaled(to.APIDeploy) + to.Scaled(to.KeyManagerPropagation) + to.Scaled(to.Invoke) +
		to.Scaled(to.Revocation) + to.Scaled(to.TokenIssue) + 6*to.Scaled(to.Request)
}
