package main

import (
	"bytes"
	"context"
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
