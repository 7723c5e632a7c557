package conformance

import (
	"fmt"
	"time"

	. "github.com/onsi/gomega"

	"github.com/apim-conformance/apim-conformance/suites/framework/apim"
	"github.com/apim-conformance/apim-conformance/suites/framework/oauth"
)

// Report entry names: measured figures that reach the conformance report.
// Values are time.Duration.
const (
	ReportRevocationLatency  = "revocation-propagation"
	ReportTokenLatencyPrefix = "token-issuance." // + key manager
	ReportGatewayP50         = "gateway-latency-p50"
	ReportGatewayP95         = "gateway-latency-p95"
)

func revocationChecks() []Check {
	return []Check{
		{
			ID: "revocation.gateway", Description: "a token revoked at the issuing key manager is rejected by the gateway (401, 900901) within the revocation timeout; the propagation time is recorded",
			Labels: []string{"revocation", "smoke"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				api, app, token := liveAPI(t)

				t.Expect(env.AppKM().Revoke(t.Ctx, app.Client(), token, "access_token")).To(Succeed())
				revoked := time.Now()
				gw := env.Gateway()
				to := env.Config.Timeouts
				var last apim.Invocation
				t.Eventually(t.Ctx, func() error {
					inv, err := gw.Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
					if err != nil {
						return err
					}
					last = inv
					if inv.Status == 401 && inv.Error != nil && inv.Error.Code == apim.CodeInvalidCredentials {
						return nil
					}
					return fmt.Errorf("the gateway still answers %s to the revoked token", inv)
				}).WithTimeout(to.Scaled(to.Revocation)).WithPolling(to.Interval()).Should(Succeed(),
					"revocation at the key manager never reached the gateway (the key manager's notification or the gateway's revoked-token map is broken)")
				latency := time.Since(revoked)
				t.Report(ReportRevocationLatency, latency)
				t.Logf("revocation reached the gateway in %s (last answer %s)", latency, last)
			},
		},
		{
			ID: "revocation.revokedjwt", Description: "a token revoked at the issuing key manager is listed by its jti in the control plane's /internal/data/v1/revokedjwt",
			Labels: []string{"revocation"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				app, err := env.UnsubscribedApp(t.Ctx)
				t.Require(err, "application with keys")
				token, err := env.AppToken(t.Ctx, app)
				t.Require(err, "application token")
				_, claims, err := oauth.Inspect(token)
				t.Expect(err).NotTo(HaveOccurred())
				t.Expect(claims.ID).NotTo(BeEmpty(), "token has no jti")
				t.Expect(env.AppKM().Revoke(t.Ctx, app.Client(), token, "access_token")).To(Succeed())
				to := env.Config.Timeouts
				t.Eventually(t.Ctx, func() ([]string, error) {
					rows, err := env.Internal().RevokedJWTs(t.Ctx)
					sigs := make([]string, len(rows))
					for i, r := range rows {
						sigs[i] = r.Signature
					}
					return sigs, err
				}).WithTimeout(to.Scaled(to.Revocation)).WithPolling(to.Interval()).Should(ContainElement(claims.ID),
					"the revoked token's jti never appeared in /revokedjwt (the key manager did not notify the control plane)")
			},
		},
	}
}
