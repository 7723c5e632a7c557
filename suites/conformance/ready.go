package conformance

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/gomega"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

// WaitReady polls until the management node answers DCR and issues a portal
// token, bounded by PlatformReady, printing progress every ProgressEvery.
// Slow starts (DCR's boot-time 500s, 503s) are waited out; refused
// credentials stop the wait at once. Gateway health is deliberately not part
// of the gate: it is a check (gateway.ready) and must be able to fail alone.
func (e *Env) WaitReady(ctx context.Context) error {
	to := e.Config.Timeouts
	deadline := to.Scaled(to.PlatformReady)
	start, lastProgress := time.Now(), time.Now()
	var lastErr error
	var failure string
	g := gomega.NewGomega(func(message string, _ ...int) { failure = message })
	ok := g.Eventually(ctx, func() error {
		_, err := e.APIM().Discover(ctx)
		if err == nil {
			return nil
		}
		lastErr = err
		if time.Since(lastProgress) >= time.Duration(to.ProgressEvery) {
			e.logf("still waiting for %s to answer (%s so far): %v", e.Endpoints.Management, time.Since(start).Round(time.Second), redact.String(err.Error()))
			lastProgress = time.Now()
		}
		return err
	}).WithTimeout(deadline).WithPolling(to.Interval()).Should(gomega.Succeed())
	if !ok {
		if lastErr == nil {
			return fmt.Errorf("the platform did not become ready: %s", failure)
		}
		return fmt.Errorf("the platform did not answer within %s (timeout platformReady; raise it with --timeout platformReady=15m): %v", deadline, lastErr)
	}
	// PortalToken retries DCR's boot-time 500s itself, bounded by TokenIssue.
	if _, err := e.PortalToken(ctx); err != nil {
		return err
	}
	return nil
}
