// Package suite is the Ginkgo suite every pattern shares. A pattern suite is
// one line: suite.Run(t, N). It brings the platform up once (BeforeAll), runs
// every catalogue check as an It with its labels (skipping, with the reason,
// the checks whose capabilities the pattern lacks), collects diagnostics on
// failure before teardown, and writes the run's reports.
package suite

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/apim-conformance/apim-conformance/reports/redact"
	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/suites/platform"
)

var (
	cfg        = framework.DefaultConfig()
	configFile = os.Getenv("APIMCONF_CONFIG")
	loadErr    error
)

// Flags are bound at init so `go test ./suites/patternN -args --platform sim`
// works; env and the file are applied first, so flags win over both.
func init() {
	if configFile != "" {
		loadErr = cfg.LoadFile(configFile)
	}
	if loadErr == nil {
		loadErr = cfg.LoadEnv(os.LookupEnv)
	}
	cfg.Flags(flag.CommandLine)
}

// state is shared by the specs of one run.
type state struct {
	plat    *platform.Platform
	env     *conformance.Env
	upErr   error
	started time.Time
	checks  map[string]conformance.Check
}

// Run runs pattern's suite. Bad configuration fails at once with the fix.
func Run(t *testing.T, pattern int) {
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	cfg.Pattern = pattern
	cfg.ResolveReportDir()
	if err := cfg.Validate(platform.KnownFaults()); err != nil {
		t.Fatalf("configuration: %v", err)
	}
	redact.Add(cfg.Admin.Password, cfg.ISAdmin.Password)
	RegisterFailHandler(Fail)
	st := &state{checks: map[string]conformance.Check{}}
	define(st)
	suiteCfg, repCfg := GinkgoConfiguration()
	if suiteCfg.Timeout == time.Hour { // Ginkgo's default; ours follows the timeouts
		suiteCfg.Timeout = 3*time.Hour + totalBudget()
	}
	RunSpecs(t, fmt.Sprintf("pattern-%d", pattern), suiteCfg, repCfg)
}

func totalBudget() time.Duration {
	to := cfg.Timeouts
	return to.Scaled(to.ClusterCreate) + to.Scaled(to.ImageLoad) + to.Scaled(to.DatabaseReady) + 3*to.Scaled(to.Deploy) + to.Scaled(to.PlatformReady)
}

func define(st *state) {
	name := fmt.Sprintf("[pattern-%d]", cfg.Pattern)
	Describe(name, Ordered, ContinueOnFailure, func() {
		BeforeAll(func(ctx SpecContext) {
			st.started = time.Now()
			if cfg.Platform != framework.PlatformSim {
				// A real bring-up takes many minutes; its progress lines
				// (pod phases, pulls, waits) go to the terminal as they
				// happen, not only into the report of a failed spec.
				GinkgoWriter.TeeTo(os.Stdout)
				defer GinkgoWriter.ClearTeeWriters()
			}
			By(fmt.Sprintf("bringing up pattern %d on %s", cfg.Pattern, cfg.Platform))
			st.plat, st.upErr = platform.Up(ctx, cfg, GinkgoWriter)
			Expect(st.upErr).NotTo(HaveOccurred(), "platform")
			st.env, st.upErr = conformance.NewEnv(cfg, st.plat.Endpoints, st.plat.Capabilities, conformance.WithInspector(st.plat.Inspector))
			Expect(st.upErr).NotTo(HaveOccurred(), "environment")
			st.env.Log = func(format string, args ...any) { GinkgoWriter.Printf(redact.String(format)+"\n", args...) }
			By("waiting for the platform to answer (OIDC discovery, DCR, portal token)")
			st.upErr = st.env.WaitReady(ctx)
			Expect(st.upErr).NotTo(HaveOccurred(), "platform readiness")
		}, NodeTimeout(totalBudget()))

		AfterAll(func(ctx SpecContext) {
			if st.plat == nil {
				return
			}
			if st.env != nil {
				if err := st.env.Cleanup(ctx); err != nil {
					GinkgoWriter.Println(redact.String(err.Error()))
				}
			}
			if CurrentSpecReport().Failed() || st.upErr != nil || anyFailed() {
				dir := filepath.Join(cfg.RunDir(), "diagnostics")
				if err := st.plat.Diagnose(ctx, dir); err != nil {
					GinkgoWriter.Printf("diagnostics incomplete: %v\n", err)
				}
			}
			if err := st.plat.Close(ctx); err != nil {
				GinkgoWriter.Printf("teardown: %v\n", err)
			}
		}, NodeTimeout(10*time.Minute))

		for _, c := range conformance.Catalogue() {
			c := c
			st.checks[c.ID] = c
			It(c.ID+": "+c.Description, Label(c.Labels...), func(ctx SpecContext) {
				if reason := c.SkipReason(cfg.Pattern, st.plat.Capabilities); reason != "" {
					Skip(reason)
				}
				c.Body(&conformance.T{
					Gomega: Default, Ctx: ctx, Env: st.env,
					ReportFn: func(name string, v any) { AddReportEntry(name, v, ReportEntryVisibilityFailureOrVerbose) },
					LogFn:    func(format string, args ...any) { GinkgoWriter.Printf(format+"\n", args...) },
					SkipFn:   func(reason string) { Skip(reason) },
				})
			}, SpecTimeout(conformance.Budget(mustEnv(st))))
		}

		It("suite.contract: every request the suite sent, and every answer the emulator gave, matched WSO2's published REST contracts", Label("self"), func() {
			if st.plat.ContractViolations == nil {
				Skip("not applicable: contract validation happens only on the emulator (--platform sim)")
			}
			Expect(st.plat.ContractViolations()).To(BeEmpty(), "requests or answers that break ../shared/wso2-rest-specs")
		})
	})

	ReportAfterSuite("reports", func(r Report) {
		if err := writeReports(r, st); err != nil {
			fmt.Fprintf(os.Stderr, "writing reports: %v\n", err)
		}
	})
}

// mustEnv gives the budget a config before the env exists.
func mustEnv(st *state) *conformance.Env {
	if st.env != nil {
		return st.env
	}
	return &conformance.Env{Config: cfg}
}

var failedSpecs int

func anyFailed() bool { return failedSpecs > 0 }

var _ = ReportAfterEach(func(r SpecReport) {
	if r.Failed() {
		failedSpecs++
	}
})

// checkID extracts the check ID from a spec's text "id: description".
func checkID(text string) (id, description string) {
	id, description, _ = strings.Cut(text, ": ")
	return id, description
}
