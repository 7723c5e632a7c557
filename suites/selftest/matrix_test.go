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
// published API, keys at the key manager, a verifiable token) is broken.
var expected = map[int]map[string][]string{
	6: {
		"":                              nil,
		"gateway-ignores-revocation":    {"revocation.gateway"},
		"is-no-notification":            {"revocation.gateway", "revocation.revokedjwt"},
		"jwks-wrong-key":                {"jwks.is7", "gateway.invoke", "gateway.no-subscription", "revocation.gateway"},
		"token-wrong-issuer":            {"token.is7", "jwks.is7", "gateway.invoke", "gateway.no-subscription", "revocation.gateway"},
		"portal-down":                   {"portal.publisher", "portal.devportal", "portal.admin", "portal.carbon", "portal.is-console"},
		"gateway-no-subscription-check": {"gateway.no-subscription"},
		"api-never-deployed": {"gateway.invoke", "gateway.missing-credentials", "gateway.invalid-credentials",
			"gateway.no-subscription", "revocation.gateway"},
		"km-registration-rejected": {"km.is7-registration", "gateway.invoke", "gateway.invalid-credentials",
			"gateway.no-subscription", "revocation.gateway", "revocation.revokedjwt"},
		"slow-start":                    nil, // the readiness gate waits it out
		"gateway-unhealthy":             {"gateway.ready"},
		"gateway-skips-signature-check": {"gateway.invalid-credentials"},
		"gateway-no-auth":               {"gateway.missing-credentials"},
		"resident-jwks-wrong-key":       {"jwks.resident-km"},
		"resident-token-wrong-issuer":   {"token.resident-km", "jwks.resident-km"},
	},
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
	if err := cfg.Validate(platform.KnownFaults()); err != nil {
		tb.Fatal(err)
	}
	plat, err := platform.Up(ctx, cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	defer plat.Close(ctx)
	env, err := conformance.NewEnv(cfg, plat.Endpoints, plat.Capabilities)
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
	for pattern, rows := range expected {
		faults := append([]string{""}, platform.KnownFaults()...)
		for _, fault := range faults {
			want, ok := rows[fault]
			if !ok {
				continue // reported by TestFaultMatrixCoversEveryFault
			}
			name := fmt.Sprintf("pattern-%d/%s", pattern, fault)
			if fault == "" {
				name = fmt.Sprintf("pattern-%d/no-fault", pattern)
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
				for _, r := range results {
					if r.Status == conformance.Skipped {
						t.Errorf("check %s skipped on pattern %d: %s", r.ID, pattern, r.Message)
					}
				}
			})
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
