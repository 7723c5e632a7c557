package conformance

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// The catalogue is linted like Kubernetes' frozen feature list: stable,
// unique IDs, a closed capability vocabulary, labels from a known set.
func TestCatalogueIsWellFormed(t *testing.T) {
	idRe := regexp.MustCompile(`^[a-z0-9]+\.[a-z0-9-]+$`)
	labels := map[string]bool{"portal": true, "smoke": true, "token": true, "jwks": true, "km": true, "gateway": true,
		"security": true, "revocation": true, "wiring": true, "throttling": true, "ha": true, "disruptive": true}
	seen := map[string]bool{}
	for _, c := range Catalogue() {
		if !idRe.MatchString(c.ID) || seen[c.ID] {
			t.Errorf("check ID %q is malformed or repeated", c.ID)
		}
		seen[c.ID] = true
		if c.Description == "" || c.Owner == "" || c.Body == nil || len(c.Labels) == 0 {
			t.Errorf("%s: description, owner, labels and body are required", c.ID)
		}
		for _, l := range c.Labels {
			if !labels[l] {
				t.Errorf("%s: label %q is not in the vocabulary", c.ID, l)
			}
		}
		for _, r := range c.Requires {
			if len(Check{Requires: []Capability{r}}.Missing(Capabilities)) != 0 {
				t.Errorf("%s: requires unknown capability %q", c.ID, r)
			}
		}
	}
}

func TestSkipReasonNamesTheMissingCapability(t *testing.T) {
	c := Check{ID: "km.x", Requires: []Capability{DedicatedKM, IS7KM}}
	if got := c.SkipReason(0, []Capability{ResidentKM, IS7KM}); !strings.Contains(got, "dedicated-km") || strings.Contains(got, "is7-km") || !strings.Contains(got, "pattern 0") {
		t.Errorf("reason %q", got)
	}
	if got := c.SkipReason(4, []Capability{DedicatedKM, IS7KM}); got != "" {
		t.Errorf("applicable check skipped: %q", got)
	}
}

func TestTamperChangesAClaimAndKeepsTheSignature(t *testing.T) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","azp":"c1"}`))
	token := "eyJhbGciOiJSUzI1NiJ9." + payload + ".c2lnbmF0dXJl"
	forged, err := tamper(token)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(forged, ".")
	if parts[0] != "eyJhbGciOiJSUzI1NiJ9" || parts[2] != "c2lnbmF0dXJl" {
		t.Fatalf("header or signature changed: %s", forged)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]string
	json.Unmarshal(raw, &c)
	if c["sub"] == "admin" || c["azp"] != "c1" {
		t.Fatalf("claims %v", c)
	}
}
