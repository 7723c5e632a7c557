package selftest

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/suites/platform"
)

// expected lists, per pattern and fault, exactly the checks that must fail.
// Dependencies are real ones: a check fails when something it needs (the
// published API, keys at the key manager, a verifiable token) is broken. A
// fault whose component the pattern lacks (IS faults on 0-5, replica faults
// with one gateway replica) breaks nothing there: nil.
var expected = map[int]map[string][]string{
	0: {
		"":                              nil,
		"gateway-ignores-revocation":    {"revocation.gateway"},
		"is-no-notification":            nil,
		"jwks-wrong-key":                nil,
		"token-wrong-issuer":            nil,
		"portal-down":                   {"portal.publisher", "portal.devportal", "portal.admin", "portal.carbon"},
		"gateway-no-subscription-check": {"gateway.no-subscription"},
		"api-never-deployed": {"gateway.invoke", "gateway.missing-credentials", "gateway.invalid-credentials",
			"gateway.no-subscription", "revocation.gateway", "throttling.application"},
		"km-registration-rejected":      nil,
		"slow-start":                    nil,
		"gateway-unhealthy":             {"gateway.ready"},
		"gateway-skips-signature-check": {"gateway.invalid-credentials"},
		"gateway-no-auth":               {"gateway.missing-credentials"},
		"resident-jwks-wrong-key":       {"jwks.resident-km"},
		"resident-token-wrong-issuer": {"token.resident-km", "jwks.resident-km", "gateway.invoke", "gateway.no-subscription",
			"revocation.gateway", "throttling.application"},
		// The all-in-one's own oauth2_jwks_url names a missing Service: its
		// embedded gateway rejects every resident-KM token.
		"gateway-wrong-km-url":   {"gateway.invoke", "gateway.no-subscription", "revocation.gateway", "throttling.application"},
		"tm-not-throttling":      {"throttling.application"},
		"replica-down":           nil, // one replica
		"revocation-one-replica": nil, // one replica
	},
	1: {
		"":                              nil,
		"gateway-ignores-revocation":    {"revocation.gateway", "revocation.all-replicas"},
		"is-no-notification":            nil,
		"jwks-wrong-key":                nil,
		"token-wrong-issuer":            nil,
		"portal-down":                   {"portal.publisher", "portal.devportal", "portal.admin", "portal.carbon"},
		"gateway-no-subscription-check": {"gateway.no-subscription"},
		"api-never-deployed": {"gateway.invoke", "gateway.missing-credentials", "gateway.invalid-credentials",
			"gateway.no-subscription", "revocation.gateway", "throttling.application", "ha.gateway-failover", "revocation.all-replicas"},
		"km-registration-rejected":      nil,
		"slow-start":                    nil,
		"gateway-unhealthy":             {"gateway.ready"},
		"gateway-skips-signature-check": {"gateway.invalid-credentials"},
		"gateway-no-auth":               {"gateway.missing-credentials"},
		"resident-jwks-wrong-key":       {"jwks.resident-km"},
		"resident-token-wrong-issuer": {"token.resident-km", "jwks.resident-km", "gateway.invoke", "gateway.no-subscription",
			"revocation.gateway", "throttling.application", "ha.gateway-failover", "revocation.all-replicas"},
		"gateway-wrong-km-url": {"gateway.invoke", "gateway.no-subscription", "revocation.gateway", "throttling.application",
			"ha.gateway-failover", "revocation.all-replicas"},
		"tm-not-throttling": {"throttling.application"},
		// Every client's calls alternate replicas, so no check that needs
		// consecutive successes passes; single calls meet the live replica.
		"replica-down": {"gateway.invoke", "gateway.no-subscription", "revocation.gateway", "throttling.application",
			"ha.gateway-failover", "revocation.all-replicas"},
		// Through the Service the revoked token meets the informed replica
		// (revocation.gateway passes); addressed one by one, it does not.
		"revocation-one-replica": {"revocation.all-replicas"},
	},
	2: separateGatewayRows(nil),
	3: separateGatewayRows(nil),
	4: separateGatewayRows([]string{"km.dedicated"}),
	5: separateGatewayRows([]string{"km.dedicated"}),
	6: {
		"":                              nil,
		"gateway-ignores-revocation":    {"revocation.gateway"},
		"is-no-notification":            {"revocation.gateway", "revocation.revokedjwt"},
		"jwks-wrong-key":                {"jwks.is7", "gateway.invoke", "gateway.no-subscription", "revocation.gateway", "throttling.application"},
		"token-wrong-issuer":            {"token.is7", "jwks.is7", "gateway.invoke", "gateway.no-subscription", "revocation.gateway", "throttling.application"},
		"portal-down":                   {"portal.publisher", "portal.devportal", "portal.admin", "portal.carbon", "portal.is-console"},
		"gateway-no-subscription-check": {"gateway.no-subscription"},
		"api-never-deployed": {"gateway.invoke", "gateway.missing-credentials", "gateway.invalid-credentials",
			"gateway.no-subscription", "revocation.gateway", "throttling.application"},
		"km-registration-rejected": {"km.is7-registration", "gateway.invoke", "gateway.invalid-credentials",
			"gateway.no-subscription", "revocation.gateway", "revocation.revokedjwt", "throttling.application"},
		"slow-start":                    nil, // the readiness gate waits it out
		"gateway-unhealthy":             {"gateway.ready"},
		"gateway-skips-signature-check": {"gateway.invalid-credentials"},
		"gateway-no-auth":               {"gateway.missing-credentials"},
		"resident-jwks-wrong-key":       {"jwks.resident-km"},
		"resident-token-wrong-issuer":   {"token.resident-km", "jwks.resident-km"},
		// Application tokens come from IS, validated with the registered
		// key manager's JWKS, not the all-in-one's own wiring.
		"gateway-wrong-km-url":   nil,
		"tm-not-throttling":      {"throttling.application"}, // the all-in-one embeds the traffic manager
		"replica-down":           nil,                        // one replica
		"revocation-one-replica": nil,                        // one replica
	},
}

// separateGatewayRows is the matrix of the patterns with a universal gateway
// (two replicas) and the resident or a dedicated key manager (2-5). km lists
// the checks that need a working dedicated key manager (km.dedicated on 4
// and 5): they fail wherever application tokens cannot be used.
func separateGatewayRows(km []string) map[string][]string {
	with := func(ids ...string) []string { return append(ids, km...) }
	return map[string][]string{
		"":                              nil,
		"gateway-ignores-revocation":    {"revocation.gateway", "revocation.all-replicas"},
		"is-no-notification":            nil,
		"jwks-wrong-key":                nil,
		"token-wrong-issuer":            nil,
		"portal-down":                   {"portal.publisher", "portal.devportal", "portal.admin", "portal.carbon"},
		"gateway-no-subscription-check": {"gateway.no-subscription"},
		"api-never-deployed": with("gateway.invoke", "gateway.missing-credentials", "gateway.invalid-credentials",
			"gateway.no-subscription", "revocation.gateway", "throttling.application", "ha.gateway-failover", "revocation.all-replicas"),
		"km-registration-rejected":      nil,
		"slow-start":                    nil,
		"gateway-unhealthy":             {"gateway.ready"},
		"gateway-skips-signature-check": {"gateway.invalid-credentials"},
		"gateway-no-auth":               {"gateway.missing-credentials"},
		// The gateway trusts the key manager's key internally, so only the
		// JWKS verifications (jwks.resident-km, km.dedicated) see it.
		"resident-jwks-wrong-key": with("jwks.resident-km"),
		"resident-token-wrong-issuer": with("token.resident-km", "jwks.resident-km", "gateway.invoke", "gateway.no-subscription",
			"revocation.gateway", "throttling.application", "ha.gateway-failover", "revocation.all-replicas"),
		// The gateway's deployment.toml names wso2am-cp-service: the wiring
		// check sees it, and the gateway rejects every KM token.
		"gateway-wrong-km-url": with("wiring.services", "gateway.invoke", "gateway.no-subscription", "revocation.gateway",
			"throttling.application", "ha.gateway-failover", "revocation.all-replicas"),
		"tm-not-throttling": {"throttling.application"},
		"replica-down": with("gateway.invoke", "gateway.no-subscription", "revocation.gateway", "throttling.application",
			"ha.gateway-failover", "revocation.all-replicas"),
		"revocation-one-replica": {"revocation.all-replicas"},
	}
}

// newChecks are the checks of the pattern 0-5 topologies with the fault that
// shows each failing for its own reason (TestNewChecksFailForTheirFault).
var newChecks = map[string]struct {
	pattern int
	fault   string
}{
	"wiring.services":         {3, "gateway-wrong-km-url"},
	"km.dedicated":            {4, "gateway-wrong-km-url"},
	"throttling.application":  {0, "tm-not-throttling"},
	"ha.gateway-failover":     {2, "replica-down"},
	"revocation.all-replicas": {1, "revocation-one-replica"},
}

// matrixTimeouts are short, so a fault that makes a check wait out its
// timeout costs a second, not the sim defaults; slow-start (1.5 s) still fits
// inside PlatformReady.
func matrixTimeouts() framework.Timeouts {
	t := framework.SimTimeouts()
	second := framework.Duration(time.Second)
	t.Request, t.TokenIssue, t.KeyManagerPropagation, t.APIDeploy, t.Invoke, t.Revocation = second, second, second, second, second, second
	t.PlatformReady = framework.Duration(5 * time.Second)
	return t
}

// runPattern brings up the emulator with faults and runs every check.
func runPattern(ctx context.Context, tb testing.TB, pattern int, faults []string, log io.Writer) []conformance.Result {
	cfg := framework.DefaultConfig()
	cfg.Pattern, cfg.Faults, cfg.RunID = pattern, faults, fmt.Sprintf("m%d", time.Now().UnixNano()%1e6)
	cfg.Timeouts = matrixTimeouts()
	// Disruptive checks run in the matrix: that is the only way to show
	// ha.gateway-failover failing for the right reason.
	cfg.Disruptive = true
	if err := cfg.Validate(platform.KnownFaults()); err != nil {
		tb.Fatal(err)
	}
	plat, err := platform.Up(ctx, cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	defer plat.Close(ctx)
	env, err := conformance.NewEnv(cfg, plat.Endpoints, plat.Capabilities, conformance.WithInspector(plat.Inspector))
	if err != nil {
		tb.Fatal(err)
	}
	if err := env.WaitReady(ctx); err != nil {
		tb.Fatalf("faults %v: platform never became ready: %v", faults, err)
	}
	results := conformance.Run(ctx, env, pattern, conformance.Catalogue())
	if v := plat.ContractViolations(); len(v) > 0 {
		tb.Errorf("faults %v: contract violations (the suite's clients or the emulator drifted from WSO2's specs):\n%s", faults, strings.Join(v, "\n"))
	}
	return results
}

func TestFaultMatrixCoversEveryFault(t *testing.T) {
	for pattern, rows := range expected {
		for _, f := range platform.KnownFaults() {
			if _, ok := rows[f]; !ok {
				t.Errorf("pattern %d: fault %q has no row in the matrix; add the checks it must break", pattern, f)
			}
		}
		for f := range rows {
			if f != "" && !contains(platform.KnownFaults(), f) {
				t.Errorf("pattern %d: matrix row for unknown fault %q", pattern, f)
			}
		}
	}
}

func TestFaultMatrix(t *testing.T) {
	patterns := make([]int, 0, len(expected))
	for p := range expected {
		patterns = append(patterns, p)
	}
	sort.Ints(patterns)
	for _, pattern := range patterns {
		rows := expected[pattern]
		// Patterns run in parallel with each other (a failing check mostly
		// waits out its timeout), faults of one pattern one after another.
		t.Run(fmt.Sprintf("pattern-%d", pattern), func(t *testing.T) {
			t.Parallel()
			faults := append([]string{""}, platform.KnownFaults()...)
			for _, fault := range faults {
				want, ok := rows[fault]
				if !ok {
					continue // reported by TestFaultMatrixCoversEveryFault
				}
				name := fault
				if fault == "" {
					name = "no-fault"
				}
				t.Run(name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					defer cancel()
					var faults []string
					if fault != "" {
						faults = []string{fault}
					}
					results := runPattern(ctx, t, pattern, faults, io.Discard)
					got := conformance.Failing(results)
					sort.Strings(got)
					w := append([]string{}, want...)
					sort.Strings(w)
					if strings.Join(got, ",") != strings.Join(w, ",") {
						var detail []string
						for _, r := range results {
							if r.Status == conformance.Failed {
								detail = append(detail, fmt.Sprintf("  %s: %s", r.ID, firstLines(r.Message, 3)))
							}
						}
						t.Errorf("fault %q: failing checks\n  got  %v\n  want %v\n%s", fault, got, w, strings.Join(detail, "\n"))
					}
					// A check may be skipped only as not applicable to the
					// pattern's capabilities; disruptive checks are enabled here.
					for _, r := range results {
						if r.Status == conformance.Skipped && !strings.HasPrefix(r.Message, "not applicable: needs capability") {
							t.Errorf("check %s skipped on pattern %d: %s", r.ID, pattern, r.Message)
						}
					}
				})
			}
		})
	}
}

// TestEveryFaultBreaksSomething: a fault that fails no check on any pattern
// proves nothing about the checks.
func TestEveryFaultBreaksSomething(t *testing.T) {
	for _, f := range platform.KnownFaults() {
		broke := false
		for _, rows := range expected {
			broke = broke || len(rows[f]) > 0
		}
		if !broke && f != "slow-start" { // slow-start proves the readiness gate waits
			t.Errorf("fault %q fails no check on any pattern", f)
		}
	}
}

// TestNewChecksFailForTheirFault: each check of the topologies is shown
// failing, in the matrix, for the fault aimed at it, and passing without it.
func TestNewChecksFailForTheirFault(t *testing.T) {
	for id, nc := range newChecks {
		if _, ok := conformance.ByID(id); !ok {
			t.Errorf("%s is not in the catalogue", id)
		}
		if !contains(expected[nc.pattern][nc.fault], id) {
			t.Errorf("%s: the matrix does not show it failing on pattern %d under %s", id, nc.pattern, nc.fault)
		}
		if contains(expected[nc.pattern][""], id) {
			t.Errorf("%s fails on a healthy pattern %d", id, nc.pattern)
		}
	}
}

// BenchmarkPattern6 is a full pattern-6 run against the emulator: start,
// readiness gate, every check, teardown.
func BenchmarkPattern6(b *testing.B) {
	var log io.Writer = io.Discard
	if os.Getenv("BENCH_LOG") != "" {
		log = os.Stderr
	}
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		results := runPattern(ctx, b, 6, nil, log)
		cancel()
		if f := conformance.Failing(results); len(f) > 0 {
			b.Fatalf("failing checks on a healthy emulator: %v", f)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
