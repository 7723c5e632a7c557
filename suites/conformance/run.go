package conformance

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/onsi/gomega"
)

// Outcome of a check.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Result is one check's outcome from Run.
type Result struct {
	ID       string
	Status   string
	Message  string
	Duration time.Duration
	Reports  map[string]any
}

// failure is the panic value that stops a check body at its first failed
// assertion, as Ginkgo's Fail does.
type failure struct{ message string }

// Run executes checks in order against env, in process, without Ginkgo. The
// fault matrix and the benchmarks use it; the Ginkgo suites run the same
// bodies. Every check gets its own deadline (Budget).
func Run(ctx context.Context, env *Env, pattern int, checks []Check) []Result {
	results := make([]Result, 0, len(checks))
	for _, c := range checks {
		results = append(results, runOne(ctx, env, pattern, c))
	}
	return results
}

func runOne(ctx context.Context, env *Env, pattern int, c Check) (res Result) {
	res = Result{ID: c.ID, Reports: map[string]any{}}
	if reason := c.SkipReason(pattern, env.Capabilities); reason != "" {
		res.Status, res.Message = Skipped, reason
		return res
	}
	cctx, cancel := context.WithTimeout(ctx, Budget(env))
	defer cancel()
	start := time.Now()
	t := &T{
		Gomega: gomega.NewGomega(func(message string, _ ...int) { panic(failure{message}) }),
		Ctx:    cctx, Env: env,
		ReportFn: func(name string, v any) { res.Reports[name] = v },
		LogFn:    env.Log,
	}
	defer func() {
		res.Duration = time.Since(start)
		switch r := recover().(type) {
		case nil:
			res.Status = Passed
		case failure:
			res.Status, res.Message = Failed, r.message
		case skipped:
			res.Status, res.Message = Skipped, r.reason
		default:
			res.Status, res.Message = Failed, fmt.Sprintf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	c.Body(t)
	return res
}

// Failing returns the IDs of failed results.
func Failing(results []Result) []string {
	var ids []string
	for _, r := range results {
		if r.Status == Failed {
			ids = append(ids, r.ID)
		}
	}
	return ids
}
