package conformance

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	. "github.com/onsi/gomega"

	"github.com/apim-conformance/apim-conformance/suites/framework/apim"
	"github.com/apim-conformance/apim-conformance/suites/framework/oauth"
)

// Checks of how a pattern's nodes are put together: wiring between
// releases, the dedicated key manager, the traffic manager, and the
// replicas behind each Service.

const (
	// ThrottledTier is the application tier the throttling check uses; WSO2
	// ships it by default (facts §3.1).
	ThrottledTier  = "10PerMin"
	throttledQuota = 10
	// CodeAppThrottled is WSO2's application-level throttle-out code
	// (carbon-apimgt APIThrottleConstants.APPLICATION_THROTTLE_OUT_ERROR_CODE),
	// sent with HTTP 429 and the message "Message throttled out".
	CodeAppThrottled    = "900803"
	throttledOutMessage = "Message throttled out"
	// failoverSuccesses is how many consecutive successes prove the gateway
	// serves with a replica gone: enough that a rotation over the remaining
	// replicas has been seen several times over.
	failoverSuccesses = 10
)

// DisruptiveSkipReason is why a disruptive check did not run.
const DisruptiveSkipReason = "disruptive not enabled: this check deletes a pod; run with --disruptive (APIMCONF_DISRUPTIVE=1) to include it"

// requireInspector fails the check when the platform cannot be inspected.
// Only patterns the inspector-backed checks apply to (separate gateway, HA)
// get here, and only providers that can deploy them offer one.
func requireInspector(t *T) Inspector {
	t.Expect(t.Env.Inspector).NotTo(BeNil(), "the platform provider offers no inspector (deployment.toml, Services, replicas); this check needs one")
	return t.Env.Inspector
}

// wiringRef is one peer URL a node's deployment.toml names.
type wiringRef struct{ Key, URL string }

// wiringRefs reads the peer URLs from a deployment.toml: key manager, JWKS,
// event hub, traffic manager and gateway environment wiring (facts §2.5).
func wiringRefs(text string) ([]wiringRef, error) {
	var doc map[string]any
	if _, err := toml.Decode(text, &doc); err != nil {
		return nil, err
	}
	var out []wiringRef
	add := func(key string, v any) {
		switch x := v.(type) {
		case string:
			out = append(out, wiringRef{key, x})
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok {
					out = append(out, wiringRef{key, s})
				}
			}
		}
	}
	table := func(path ...string) map[string]any {
		cur := doc
		for _, p := range path {
			next, ok := cur[p].(map[string]any)
			if !ok {
				return nil
			}
			cur = next
		}
		return cur
	}
	tables := func(v any) []map[string]any {
		switch x := v.(type) {
		case []map[string]any:
			return x
		case []any:
			var out []map[string]any
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					out = append(out, m)
				}
			}
			return out
		}
		return nil
	}
	if t := table("apim", "key_manager"); t != nil {
		add("[apim.key_manager] service_url", t["service_url"])
	}
	if t := table("oauth", "endpoints"); t != nil {
		add("[oauth.endpoints] oauth2_jwks_url", t["oauth2_jwks_url"])
	}
	if t := table("apim", "event_hub"); t != nil {
		add("[apim.event_hub] service_url", t["service_url"])
		add("[apim.event_hub] event_listening_endpoints", t["event_listening_endpoints"])
	}
	if t := table("apim", "throttling"); t != nil {
		add("[apim.throttling] throttle_decision_endpoints", t["throttle_decision_endpoints"])
		for _, g := range tables(t["url_group"]) {
			add("[[apim.throttling.url_group]] traffic_manager_urls", g["traffic_manager_urls"])
			add("[[apim.throttling.url_group]] traffic_manager_auth_urls", g["traffic_manager_auth_urls"])
		}
	}
	if t := table("apim", "gateway"); t != nil {
		for _, e := range tables(t["environment"]) {
			add("[[apim.gateway.environment]] service_url", e["service_url"])
		}
	}
	return out, nil
}

// dialPeer connects to a peer URL the way the node would: TCP for tcp://
// (Thrift, JMS), TLS verified against the platform CA for https:// and
// ssl://, through the Endpoints' dialer (HostMap).
func (e *Env) dialPeer(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("%q is not a URL with a host and a port", raw)
	}
	conn, err := e.Endpoints.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	if u.Scheme == "tcp" {
		return nil
	}
	pool, err := e.Endpoints.CertPool()
	if err != nil {
		return err
	}
	name := u.Hostname()
	if n := e.Endpoints.TLSNames[strings.ToLower(name)]; n != "" {
		name = n
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12})
	return tc.HandshakeContext(ctx)
}

func isLocal(host string) bool {
	return host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()
}

// gatewayReplicas returns the component serving API traffic and its replica
// count, failing the check unless there are at least two.
func gatewayReplicas(t *T, insp Inspector) (string, int) {
	comp := insp.GatewayComponent()
	n := insp.Replicas(comp)
	t.Expect(n).To(BeNumerically(">=", 2), "the gateway component %q runs %d replica(s); the pattern claims ha", comp, n)
	return comp, n
}

// gatewayPort is the pass-through port of the Gateway endpoint (8243).
func gatewayPort(t *T) int {
	u, err := url.Parse(t.Env.Endpoints.Gateway)
	t.Expect(err).NotTo(HaveOccurred())
	p, err := strconv.Atoi(u.Port())
	t.Expect(err).NotTo(HaveOccurred(), "the gateway endpoint %s has no port", t.Env.Endpoints.Gateway)
	return p
}

func topologyChecks() []Check {
	return []Check{
		{
			ID: "wiring.services", Description: "every peer URL in each node's deployment.toml (key manager, JWKS, event hub, traffic manager, gateway environment) names a Service of the deployment that answers",
			Requires: []Capability{SeparateGateway}, Labels: []string{"wiring", "smoke"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				insp := requireInspector(t)
				configs := insp.NodeConfigs()
				t.Expect(configs).NotTo(BeEmpty(), "the platform reports no node configuration")
				services := map[string]bool{}
				for _, s := range insp.ServiceNames() {
					services[s] = true
				}
				var comps []string
				for c := range configs {
					comps = append(comps, c)
				}
				sort.Strings(comps)
				to := env.Config.Timeouts
				var problems []string
				checked := map[string]error{}
				for _, comp := range comps {
					refs, err := wiringRefs(configs[comp])
					t.Expect(err).NotTo(HaveOccurred(), "the deployment.toml of %s is not valid TOML", comp)
					for _, ref := range refs {
						u, err := url.Parse(ref.URL)
						if err != nil || u.Hostname() == "" {
							problems = append(problems, fmt.Sprintf("%s: %s = %q is not a URL", comp, ref.Key, ref.URL))
							continue
						}
						if isLocal(u.Hostname()) {
							continue // the node itself
						}
						if !services[u.Hostname()] {
							problems = append(problems, fmt.Sprintf("%s: %s = %s names Service %q, which does not exist", comp, ref.Key, ref.URL, u.Hostname()))
							continue
						}
						perr, done := checked[ref.URL]
						if !done {
							perr = env.poll(t.Ctx, to.Scaled(to.Request), "connecting to "+ref.URL, func() error { return env.dialPeer(t.Ctx, ref.URL) })
							checked[ref.URL] = perr
						}
						if perr != nil {
							problems = append(problems, fmt.Sprintf("%s: %s = %s does not answer: %v", comp, ref.Key, ref.URL, perr))
						}
					}
				}
				t.Logf("checked %d peer URLs of %v against Services %v", len(checked), comps, insp.ServiceNames())
				t.Expect(problems).To(BeEmpty(), "node wiring that names missing or silent Services")
			},
		},
		{
			ID: "km.dedicated", Description: "application tokens come from the dedicated key manager: its discovery issuer and JWKS verify them, and the gateway accepts them",
			Requires: []Capability{DedicatedKM}, Labels: []string{"km", "smoke"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				t.Expect(env.Endpoints.KeyManager).NotTo(BeEmpty(), "the platform names no dedicated key manager endpoint")
				kmURL, err := url.Parse(env.Endpoints.KeyManager)
				t.Expect(err).NotTo(HaveOccurred())
				mgmt, _ := url.Parse(env.Endpoints.Management)
				t.Expect(kmURL.Host).NotTo(Equal(mgmt.Host), "the key manager endpoint is the management node, not a dedicated one")
				disc, err := env.ResidentKM().Discover(t.Ctx)
				t.Expect(err).NotTo(HaveOccurred(), "OIDC discovery at the dedicated key manager")
				iss, err := url.Parse(disc.Issuer)
				t.Expect(err).NotTo(HaveOccurred())
				t.Expect(iss.Hostname()).To(Equal(kmURL.Hostname()), "the discovered issuer %s is not the dedicated key manager", disc.Issuer)
				api, err := env.PublishedAPI(t.Ctx)
				t.Require(err, "publishing the test API")
				app, err := env.SubscribedApp(t.Ctx)
				t.Require(err, "subscribed application with keys")
				token, err := env.AppToken(t.Ctx, app)
				t.Require(err, "application token from the dedicated key manager")
				_, claims, err := oauth.Inspect(token)
				t.Expect(err).NotTo(HaveOccurred(), "the application token is not a JWT")
				t.Expect(claims.Issuer).To(Equal(disc.Issuer), "the application token was not issued by the dedicated key manager")
				hdr, _, err := env.JWKS.Verify(t.Ctx, disc.JWKSURI, token, oauth.Expect{Issuer: disc.Issuer})
				t.Expect(err).NotTo(HaveOccurred(), "verifying the application token (kid %q) with the key manager's JWKS %s", hdr.KeyID, disc.JWKSURI)
				invokeUntilLive(t, api, token)
			},
		},
		{
			ID: "throttling.application", Description: "an application on the " + ThrottledTier + " tier gets exactly " + strconv.Itoa(throttledQuota) + " successful calls, then 429 with WSO2 code " + CodeAppThrottled + " (Message throttled out)",
			Requires: []Capability{TrafficManager}, Labels: []string{"throttling"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				// Prove the API is live with another application first, so no
				// quota is spent on a gateway that has not deployed it yet.
				api, _, _ := liveAPI(t)
				app, err := env.newApp(t.Ctx, "apimconf_throttled_"+env.Suffix, ThrottledTier, &api)
				t.Require(err, "application on the "+ThrottledTier+" tier")
				token, err := env.AppToken(t.Ctx, app)
				t.Require(err, "token of the throttled application")
				gw := env.Gateway()
				successes := 0
				var last apim.Invocation
				for i := 0; i <= throttledQuota; i++ {
					inv, err := gw.Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
					t.Expect(err).NotTo(HaveOccurred(), "call %d", i+1)
					last = inv
					if inv.Status != 200 {
						break
					}
					successes++
				}
				t.Expect(successes).To(Equal(throttledQuota), "successful calls of a %s application before the first refusal (last answer %s)", ThrottledTier, last)
				t.Expect(last.Status).To(Equal(429), "call %d, past the quota: %s", throttledQuota+1, last)
				t.Expect(last.Error).NotTo(BeNil(), "the 429 carries no WSO2 error body")
				t.Expect(last.Error.Code).To(Equal(CodeAppThrottled), "WSO2 throttle-out code")
				t.Expect(last.Error.Message).To(Equal(throttledOutMessage))
			},
		},
		{
			ID: "ha.gateway-failover", Description: "with one gateway replica's pod deleted, calls through the gateway Service keep succeeding (" + strconv.Itoa(failoverSuccesses) + " in a row), and again after it is back",
			Requires: []Capability{HA}, Labels: []string{"ha", "disruptive"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				if !env.Config.Disruptive {
					t.Skip(DisruptiveSkipReason)
				}
				insp := requireInspector(t)
				comp, _ := gatewayReplicas(t, insp)
				api, _, token := liveAPI(t)
				restore, err := insp.Disrupt(comp, 0)
				t.Expect(err).NotTo(HaveOccurred(), "deleting %s replica 0", comp)
				defer restore()
				t.Logf("deleted %s replica 0", comp)
				expectStreak(t, api, token, failoverSuccesses, "with "+comp+" replica 0 deleted")
				restore()
				expectStreak(t, api, token, failoverSuccesses, "after "+comp+" replica 0 came back")
			},
		},
		{
			ID: "revocation.all-replicas", Description: "a revoked token is rejected (401, 900901) by every gateway replica, each addressed directly, within the revocation timeout",
			Requires: []Capability{HA}, Labels: []string{"revocation", "ha"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				insp := requireInspector(t)
				comp, n := gatewayReplicas(t, insp)
				port := gatewayPort(t)
				api, err := env.PublishedAPI(t.Ctx)
				t.Require(err, "publishing the test API")
				app, err := env.SubscribedApp(t.Ctx)
				t.Require(err, "subscribed application with keys")
				token, err := env.AppToken(t.Ctx, app)
				t.Require(err, "application token")
				to := env.Config.Timeouts
				replicas := make([]apim.Gateway, n)
				for i := range replicas {
					base, err := insp.ReplicaURL(comp, i, port)
					t.Expect(err).NotTo(HaveOccurred(), "address of %s replica %d", comp, i)
					replicas[i] = apim.Gateway{HTTP: env.HTTP, Base: base}
					gw := replicas[i]
					t.Eventually(t.Ctx, func() error {
						inv, err := gw.Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
						if err != nil {
							return err
						}
						if inv.Status != 200 {
							return fmt.Errorf("answered %s", inv)
						}
						return nil
					}).WithTimeout(to.Scaled(to.Invoke)).WithPolling(to.Interval()).Should(Succeed(), "%s replica %d (%s) serving the API before revocation", comp, i, base)
				}
				t.Expect(env.AppKM().Revoke(t.Ctx, app.Client(), token, "access_token")).To(Succeed())
				for i, gw := range replicas {
					t.Eventually(t.Ctx, func() error {
						inv, err := gw.Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
						if err != nil {
							return err
						}
						if inv.Status == 401 && inv.Error != nil && inv.Error.Code == apim.CodeInvalidCredentials {
							return nil
						}
						return fmt.Errorf("still answers %s to the revoked token", inv)
					}).WithTimeout(to.Scaled(to.Revocation)).WithPolling(to.Interval()).Should(Succeed(),
						"%s replica %d (%s) never rejected the revoked token: the revocation event did not reach it", comp, i, gw.Base)
				}
			},
		},
	}
}

// expectStreak polls the API until it answers 200 streak times in a row,
// bounded by the invoke timeout.
func expectStreak(t *T, api apim.API, token string, streak int, when string) {
	gw := t.Env.Gateway()
	to := t.Env.Config.Timeouts
	run := 0
	t.Eventually(t.Ctx, func() error {
		inv, err := gw.Invoke(t.Ctx, api.Context, api.Version, TestResource, token)
		if err != nil {
			run = 0
			return err
		}
		if inv.Status != 200 {
			run = 0
			return fmt.Errorf("answered %s", inv)
		}
		if run++; run < streak {
			return fmt.Errorf("%d of %d consecutive successes", run, streak)
		}
		return nil
	}).WithTimeout(to.Scaled(to.Invoke)).WithPolling(to.Interval()).Should(Succeed(), "%d consecutive successful calls %s", streak, when)
}
