package main

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestRenderPattern6Offline(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"render", "--pattern", "6", "--offline", "--charts-dir", "", "--is-chart-dir", ""}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	// Both releases, IS first.
	is := strings.Index(s, `release "is"`)
	apim := strings.Index(s, `release "apim"`)
	ks := strings.Index(s, "hook keystore-secret")
	if is < 0 || apim < 0 || ks < 0 || !(is < ks && ks < apim) {
		t.Fatalf("plan order wrong (is=%d keystore=%d apim=%d):\n%s", is, ks, apim, s)
	}
	for _, want := range []string{
		"https://apim-wso2am-all-in-one-am-service:9443/internal/data/v1/notify",
		"jksSecretName: apim-keystore-secret",
		"official-defaults UNAVAILABLE",
		"resident-km, is7-km",
		"=== release is (identity-server) ===",
		"=== release apim (wso2am-all-in-one) ===",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("render output lacks %q", want)
		}
	}
	// No secret value: no hex key of 32 or 64 characters, no clear passwords.
	if m := regexp.MustCompile(`\b[0-9a-f]{32,64}\b`).FindString(s); m != "" {
		t.Errorf("render output contains a hex key: %s", m)
	}
	for _, bad := range []string{`password = "admin"`, "adminPassword: admin", "password: wso2carbon"} {
		if strings.Contains(s, bad) {
			t.Errorf("render output contains a secret: %q", bad)
		}
	}
	if !strings.Contains(s, "key: <redacted>") {
		t.Error("the encryption key should be shown as <redacted>")
	}
}

func TestRenderAndDoctorHelp(t *testing.T) {
	for _, c := range []string{"render", "doctor"} {
		var out, errb bytes.Buffer
		if code := run([]string{c, "--help"}, &out, &errb); code != 0 {
			t.Fatalf("%s --help exit %d", c, code)
		}
		if !strings.Contains(errb.String(), "Examples:") {
			t.Errorf("%s --help has no example:\n%s", c, errb.String())
		}
	}
	_ = context.Background
}

func TestGoAtLeast(t *testing.T) {
	for v, want := range map[string]bool{"go1.26.8": true, "go1.27": true, "go1.25.3": false, "go2.0": true, "devel +abc": true} {
		if got := goAtLeast(v, 1, 26); got != want {
			t.Errorf("%s: %v", v, got)
		}
	}
}

// Every catalogued pattern renders offline, exits 0, names every release in
// install order and leaks no secret.
func TestRenderEveryPatternOffline(t *testing.T) {
	want := map[int][]string{
		0: {"apim"},
		1: {"apim"},
		2: {"apim", "apim-gw"},
		3: {"apim-acp", "apim-tm", "apim-gw"},
		4: {"apim-acp", "apim-km", "apim-tm", "apim-gw"},
		5: {"apim", "apim-km", "apim-gw"},
		6: {"is", "apim"},
	}
	hex := regexp.MustCompile(`\b[0-9a-f]{32,64}\b`)
	for n := 0; n <= 6; n++ {
		var out, errb bytes.Buffer
		code := run([]string{"render", "--pattern", fmt.Sprint(n), "--offline", "--charts-dir", "", "--is-chart-dir", ""}, &out, &errb)
		if code != 0 {
			t.Fatalf("pattern %d: exit %d: %s", n, code, errb.String())
		}
		s := out.String()
		last := -1
		for _, r := range want[n] {
			i := strings.Index(s, fmt.Sprintf("release %q:", r))
			if i < 0 || i < last {
				t.Errorf("pattern %d: release %s missing or out of order:\n%s", n, r, s)
			}
			last = i
			if !strings.Contains(s, "=== release "+r+" (") {
				t.Errorf("pattern %d: no values section for %s", n, r)
			}
		}
		if got := strings.Count(s, "=== release "); got != len(want[n]) {
			t.Errorf("pattern %d: %d releases rendered, want %d", n, got, len(want[n]))
		}
		if m := hex.FindString(s); m != "" {
			t.Errorf("pattern %d: render output contains a hex key: %s", n, m)
		}
		for _, bad := range []string{`password = "admin"`, "adminPassword: admin", "password: wso2carbon", "apim-pw", "shared-pw"} {
			if strings.Contains(s, bad) {
				t.Errorf("pattern %d: render output contains a secret: %q", n, bad)
			}
		}
		if !strings.Contains(s, "Capabilities: ") || !strings.Contains(s, "Images (official base") {
			t.Errorf("pattern %d: capabilities or images missing", n)
		}
	}
}
