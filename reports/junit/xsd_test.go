package junit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

// requireXmllint skips without xmllint, or fails under REQUIRE_TESTENV=1
// (CI installs libxml2-utils with make testenv-up).
func requireXmllint(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrNoValidator) {
		return
	}
	switch os.Getenv("REQUIRE_TESTENV") {
	case "1", "true", "yes":
		t.Fatalf("%v (REQUIRE_TESTENV=1)", err)
	}
	t.Skipf("%v; REQUIRE_TESTENV=1 makes this a failure", err)
}

func TestJUnitMatchesXSD(t *testing.T) {
	suites := []Suite{{
		Name: "pattern-6", Timestamp: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), Duration: 3 * time.Second,
		Properties: map[string]string{"mode": "emulator", "run-id": "x"},
		Cases: []Case{
			{Pattern: 6, CheckID: "portal.publisher", Description: "the Publisher answers", Labels: []string{"portal", "smoke"}, Owner: "apim-conformance", Status: Passed, Duration: time.Millisecond},
			{Pattern: 6, CheckID: "revocation.gateway", Description: "revocation <reaches> the gateway & more", Status: Failed, Message: "Timed out after 3s.\ntoken still accepted", Output: strings.Repeat("line\n", 5000), Properties: map[string]string{"measured.revocation-propagation": "3s"}},
			{Pattern: 6, CheckID: "km.dedicated", Description: "dedicated KM", Status: Skipped, Message: "not applicable: needs capability dedicated-km"},
			{Pattern: 6, CheckID: "gateway.ready", Description: "gateway ready", Status: Errored, Message: "platform not available: no cluster"},
		},
	}}
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := Write(path, suites, &redact.Redactor{}); err != nil {
		t.Fatal(err)
	}
	err := ValidateXSD(context.Background(), path)
	requireXmllint(t, err)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	s := string(b)
	for _, want := range []string{`<property name="labels" value="portal,smoke">`, `<property name="owner" value="apim-conformance">`,
		`<skipped message="not applicable: needs capability dedicated-km">`, "…(trimmed)…"} {
		if !strings.Contains(s, want) {
			t.Errorf("junit.xml lacks %q", want)
		}
	}
	// encoding/xml writes newlines as &#xA;, so count lines, not bytes.
	if n := strings.Count(s, "line"); n > maxOutput/len("line\n")+1 {
		t.Errorf("junit.xml keeps %d output lines: output is not trimmed to its end", n)
	}

	// The validator must reject what CI UIs would misread.
	for name, doc := range map[string]string{
		"case without name": `<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase classname="c" time="1"/></testsuite></testsuites>`,
		"failure and skip":  `<testsuites><testsuite name="s" tests="1" failures="1" errors="0"><testcase name="n" classname="c" time="1"><skipped/><failure/></testcase></testsuite></testsuites>`,
		"negative count":    `<testsuites><testsuite name="s" tests="-1" failures="0" errors="0"/></testsuites>`,
		"zoned timestamp":   `<testsuites><testsuite name="s" tests="0" failures="0" errors="0" timestamp="2026-01-01T00:00:00+02:00"/></testsuites>`,
		"non-numeric time":  `<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="n" classname="c" time="1s"/></testsuite></testsuites>`,
	} {
		p := filepath.Join(t.TempDir(), "bad.xml")
		_ = os.WriteFile(p, []byte(doc), 0o644)
		if ValidateXSD(context.Background(), p) == nil {
			t.Errorf("%s: accepted by junit.xsd", name)
		}
	}
}
