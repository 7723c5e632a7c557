package conformance

import (
	"sort"
	"time"

	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	. "github.com/onsi/gomega"

	"github.com/apim-conformance/apim-conformance/suites/framework/apim"
)

// consecutiveSuccesses is how many 200s in a row prove an API is live: one
// success can come from a gateway replica that happens to be ready while
// another is not (the Gateway API conformance suite does the same).
const consecutiveSuccesses = 3

// backendMarker is what the echo backend puts in every answer.
const backendMarker = "apim-conformance-echo"

// invokeUntilLive polls the test API with token until it answers 200 from the
// echo backend consecutiveSuccesses times in a row.
func invokeUntilLive(t *T, api apim.API, token string) apim.Invocation {
	gw := t.Env.Gateway()
	to := t.Env.Config.Timeouts
	streak := 0
	var last apim.Invocation
	t.Eventually(t.Ctx, func() error {
		inv, err := gw.Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
		if err != nil {
			streak = 0
			return err
		}
		last = inv
		if inv.Status != 200 {
			streak = 0
			return fmt.Errorf("gateway answered %s", inv)
		}
		if streak++; streak < consecutiveSuccesses {
			return fmt.Errorf("%d of %d consecutive successes", streak, consecutiveSuccesses)
		}
		return nil
	}).WithTimeout(to.Scaled(to.Invoke)).WithPolling(to.Interval()).Should(Succeed(),
		"invoking %s through the gateway", gw.URL(api.Context, api.Version, TestResource))
	return last
}

// liveAPI is the prelude of every check that needs traffic: the test API is
// published, a subscribed application has keys, a fresh token of it gets 200s
// through the gateway. A failure names the prerequisite that broke.
func liveAPI(t *T) (apim.API, App, string) {
	api, err := t.Env.PublishedAPI(t.Ctx)
	t.Require(err, "publishing the test API")
	app, err := t.Env.SubscribedApp(t.Ctx)
	t.Require(err, "subscribed application with keys")
	token, err := t.Env.AppToken(t.Ctx, app)
	t.Require(err, "application token")
	invokeUntilLive(t, api, token)
	return api, app, token
}

// expectRejected invokes once and expects a WSO2 error status and code.
func expectRejected(t *T, api apim.API, token string, status int, code, why string) {
	inv, err := t.Env.Gateway().Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
	t.Expect(err).NotTo(HaveOccurred())
	t.Expect(inv.Status).To(Equal(status), "%s: gateway answered %s", why, inv)
	t.Expect(inv.Error).NotTo(BeNil(), "%s: the %d carries no WSO2 error body: %s", why, status, inv)
	t.Expect(inv.Error.Code).To(Equal(code), "%s: WSO2 error code", why)
	t.Expect(string(inv.Body)).NotTo(ContainSubstring(backendMarker), "%s: the backend answered anyway", why)
}

// tamper changes one claim of a JWT and keeps the original signature, the
// forgery WSO2's own suite uses: a gateway that checks signatures rejects it.
func tamper(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("not a compact JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	claims["sub"] = "apimconf-forged-subject"
	forged, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2], nil
}

// latencySamples is the small, bounded sample behind the gateway latency
// figures: enough for a p95 that means something, cheap on a real gateway.
const latencySamples = 20

// sampleLatency measures round trips of successful invocations. It records,
// it does not judge: timing never decides a check's outcome.
func sampleLatency(t *T, api apim.API, token string) (p50, p95 time.Duration) {
	gw := t.Env.Gateway()
	var d []time.Duration
	for i := 0; i < latencySamples; i++ {
		start := time.Now()
		inv, err := gw.Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
		t.Expect(err).NotTo(HaveOccurred())
		t.Expect(inv.Status).To(Equal(200), "invocation %d of the latency sample: %s", i+1, inv)
		d = append(d, time.Since(start))
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)*50/100], d[(len(d)*95+99)/100-1]
}

func gatewayChecks() []Check {
	return []Check{
		{
			ID: "gateway.invoke", Description: "an API created, deployed and published through the Publisher answers through the gateway with the backend's response for a subscribed application's token",
			Labels: []string{"gateway", "smoke"}, Owner: "apim-conformance",
			Body: func(t *T) {
				api, _, token := liveAPI(t)
				inv, err := t.Env.Gateway().Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
				t.Expect(err).NotTo(HaveOccurred())
				t.Expect(inv.Status).To(Equal(200), "invoking the live API: %s", inv)
				t.Expect(inv.Header.Get("X-Echo-Backend")).To(Equal("apim-conformance"), "the answer did not come from the echo backend")
				t.Expect(string(inv.Body)).To(SatisfyAll(ContainSubstring(backendMarker), ContainSubstring(TestResource)), "backend answer")
				p50, p95 := sampleLatency(t, api, token)
				t.Report(ReportGatewayP50, p50)
				t.Report(ReportGatewayP95, p95)
			},
		},
		{
			ID: "gateway.missing-credentials", Description: "the gateway rejects a call without a token with 401 and WSO2 code 900902",
			Labels: []string{"gateway", "security"}, Owner: "apim-conformance",
			Body: func(t *T) {
				api, err := t.Env.PublishedAPI(t.Ctx)
				t.Require(err, "publishing the test API")
				expectRejected(t, api, "", 401, apim.CodeMissingCredentials, "no Authorization header")
			},
		},
		{
			ID: "gateway.invalid-credentials", Description: "the gateway rejects a subscribed application's token whose claims were altered with 401 and WSO2 code 900901",
			Labels: []string{"gateway", "security"}, Owner: "apim-conformance",
			Body: func(t *T) {
				api, err := t.Env.PublishedAPI(t.Ctx)
				t.Require(err, "publishing the test API")
				app, err := t.Env.SubscribedApp(t.Ctx)
				t.Require(err, "subscribed application with keys")
				token, err := t.Env.AppToken(t.Ctx, app)
				t.Require(err, "application token")
				forged, err := tamper(token)
				t.Expect(err).NotTo(HaveOccurred())
				expectRejected(t, api, forged, 401, apim.CodeInvalidCredentials, "token with an altered claim and the original signature")
			},
		},
		{
			ID: "gateway.no-subscription", Description: "the gateway refuses a valid token of an application not subscribed to the API with 403 and WSO2 code 900908",
			Labels: []string{"gateway", "security"}, Owner: "apim-conformance",
			Body: func(t *T) {
				// Prove the API is live first, so a 403 means "no subscription"
				// and not "not deployed yet".
				api, _, _ := liveAPI(t)
				app, err := t.Env.UnsubscribedApp(t.Ctx)
				t.Require(err, "application without subscription")
				token, err := t.Env.AppToken(t.Ctx, app)
				t.Require(err, "token of the application without subscription")
				expectRejected(t, api, token, 403, apim.CodeResourceForbidden, "token of an application without a subscription")
			},
		},
	}
}
