package sim

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

func startPattern(t *testing.T, pattern int, faults ...string) (*Platform, *http.Client) {
	t.Helper()
	p, err := Start(context.Background(), Options{Pattern: pattern, Faults: faults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := p.Endpoints().HTTPClient(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

// urlsIn collects every string that looks like a URL from a decoded TOML tree.
func urlsIn(v any, out *[]string) {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "://") {
			*out = append(*out, x)
		}
	case []any:
		for _, e := range x {
			urlsIn(e, out)
		}
	case []map[string]any:
		for _, e := range x {
			urlsIn(e, out)
		}
	case map[string]any:
		for _, e := range x {
			urlsIn(e, out)
		}
	}
}

// TestTopologies: every pattern starts, its Endpoints are valid, and every
// peer URL in every rendered deployment.toml names one of its Services on a
// port that is listening (the wiring a real deploy must have).
func TestTopologies(t *testing.T) {
	want := map[int][]string{ // components with a deployment.toml
		0: {CompAllInOne}, 1: {CompAllInOne}, 2: {CompAllInOne, CompGateway},
		3: {CompControlPlane, CompTrafficManager, CompGateway}, 4: {CompControlPlane, CompKeyManager, CompTrafficManager, CompGateway},
		5: {CompAllInOne, CompKeyManager, CompGateway}, 6: {CompAllInOne},
	}
	for _, pattern := range Patterns() {
		p, _ := startPattern(t, pattern)
		ep := p.Endpoints()
		if err := ep.Validate(); err != nil {
			t.Errorf("pattern %d: %v", pattern, err)
		}
		services := map[string]bool{}
		for _, s := range p.ServiceNames() {
			services[s] = true
		}
		cfgs := p.NodeConfigs()
		if len(cfgs) != len(want[pattern]) {
			t.Errorf("pattern %d: configs for %d components, want %v", pattern, len(cfgs), want[pattern])
		}
		for _, comp := range want[pattern] {
			var doc map[string]any
			if _, err := toml.Decode(cfgs[comp], &doc); err != nil {
				t.Fatalf("pattern %d %s: invalid TOML: %v\n%s", pattern, comp, err, cfgs[comp])
			}
			var urls []string
			urlsIn(doc, &urls)
			for _, raw := range urls {
				u, err := url.Parse(raw)
				if err != nil {
					t.Errorf("pattern %d %s: %q: %v", pattern, comp, raw, err)
					continue
				}
				if u.Hostname() == "localhost" {
					continue
				}
				if !services[u.Hostname()] {
					t.Errorf("pattern %d %s: %s names %q, not a Service (%v)", pattern, comp, raw, u.Hostname(), p.ServiceNames())
				}
				if _, ok := ep.HostMap[u.Host]; !ok {
					t.Errorf("pattern %d %s: %s: nothing listens on %s", pattern, comp, raw, u.Host)
				}
			}
		}
	}
}

func TestThrottler(t *testing.T) {
	if tierLimit("10PerMin") != 10 || tierLimit("Unlimited") != 0 || tierLimit("xPerMin") != 0 {
		t.Fatal("tier limits")
	}
	th := newThrottler(false)
	for i := 1; i <= 10; i++ {
		if ok, _ := th.allow("app", "10PerMin"); !ok {
			t.Fatalf("request %d throttled", i)
		}
	}
	if ok, next := th.allow("app", "10PerMin"); ok || next.IsZero() {
		t.Fatal("request 11 not throttled")
	}
	if ok, _ := th.allow("other", "10PerMin"); !ok {
		t.Fatal("quota shared between applications")
	}
	off := newThrottler(true)
	for i := 0; i < 20; i++ {
		if ok, _ := off.allow("app", "10PerMin"); !ok {
			t.Fatal("tm-not-throttling throttled")
		}
	}
}

func get(t *testing.T, c *http.Client, u string) (int, error) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestDisrupt: a deleted replica leaves the Service's rotation and its own
// address stops answering; restore brings it back.
func TestDisrupt(t *testing.T) {
	p, c := startPattern(t, 2)
	if p.Replicas(CompGateway) != 2 || p.Replicas(CompAllInOne) != 1 || p.Replicas("nope") != 0 || p.GatewayComponent() != CompGateway {
		t.Fatal("replica counts")
	}
	if _, err := p.Disrupt("nope", 0); err == nil {
		t.Fatal("unknown component accepted")
	}
	if _, err := p.Disrupt(CompGateway, 2); err == nil {
		t.Fatal("replica 2 of 2 accepted")
	}
	r0, err := p.ReplicaURL(CompGateway, 0, 8243)
	if err != nil || r0 != "https://apim-gw-wso2am-universal-gw-deployment-0:8243" {
		t.Fatalf("replica URL %q %v", r0, err)
	}
	restore, err := p.Disrupt(CompGateway, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, c, r0+"/none/1.0.0/x"); err == nil {
		t.Fatal("a deleted replica answered")
	}
	for i := 0; i < 4; i++ { // the Service keeps answering from replica 1
		if st, err := get(t, c, p.Endpoints().Gateway+"/none/1.0.0/x"); err != nil || st != 404 {
			t.Fatalf("service call %d: %d %v", i, st, err)
		}
	}
	restore()
	if st, err := get(t, c, r0+"/none/1.0.0/x"); err != nil || st != 404 {
		t.Fatalf("restored replica: %d %v", st, err)
	}
}

// TestReplicaDown: the dead replica stays in rotation, so a client's calls
// alternate between an answer and Envoy's 503.
func TestReplicaDown(t *testing.T) {
	p, c := startPattern(t, 3, FaultReplicaDown)
	var got []int
	for i := 0; i < 4; i++ {
		st, err := get(t, c, p.Endpoints().Gateway+"/none/1.0.0/x")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st)
	}
	if got[0] != 404 || got[1] != 503 || got[2] != 404 || got[3] != 503 {
		t.Fatalf("statuses %v, want 404/503 alternating", got)
	}
	r1, _ := p.ReplicaURL(CompGateway, 1, 8243)
	if _, err := get(t, c, r1+"/x"); err == nil {
		t.Fatal("the dead replica answered on its own address")
	}
}

// TestRevocationEvents: the event hub reaches every gateway replica, or
// only the first under revocation-one-replica; a restored replica reloads
// the list from the database.
func TestRevocationEvents(t *testing.T) {
	p, _ := startPattern(t, 1)
	p.apim.recordRevocation("jti-1", time.Now().Add(time.Hour).UnixMilli())
	for _, g := range p.gateways {
		if !g.isRevoked("jti-1") {
			t.Errorf("replica %d missed the event", g.idx)
		}
	}
	q, _ := startPattern(t, 1, FaultRevocationOneReplica)
	q.apim.recordRevocation("jti-2", time.Now().Add(time.Hour).UnixMilli())
	if !q.gateways[0].isRevoked("jti-2") || q.gateways[1].isRevoked("jti-2") {
		t.Fatal("revocation-one-replica: want only replica 0 informed")
	}
	restore, err := q.Disrupt(CompAllInOne, 1)
	if err != nil {
		t.Fatal(err)
	}
	restore()
	if !q.gateways[1].isRevoked("jti-2") {
		t.Fatal("a restarted replica did not reload the revoked list")
	}
}

// TestGatewayWrongKMURL: the fault rewrites the gateway's wiring to a
// Service that does not exist, and the gateway can no longer reach it.
func TestGatewayWrongKMURL(t *testing.T) {
	p, _ := startPattern(t, 4, FaultGatewayWrongKMURL)
	cfg := p.NodeConfigs()[CompGateway]
	if !strings.Contains(cfg, "https://"+wrongKMHost+":9443/services/") || !strings.Contains(cfg, "https://"+wrongKMHost+":9443/oauth2/jwks") {
		t.Fatalf("gateway config:\n%s", cfg)
	}
	if strings.Contains(p.NodeConfigs()[CompControlPlane], wrongKMHost) {
		t.Fatal("the fault must touch only the gateway")
	}
	if p.urlServiceUp("https://"+wrongKMHost+":9443/services/") || !p.urlServiceUp("https://"+kmHost+":9443/services/") {
		t.Fatal("service reachability")
	}
}
