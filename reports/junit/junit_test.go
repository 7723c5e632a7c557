package junit

import (
	"encoding/xml"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

func TestWriteReadRoundTripAndRedaction(t *testing.T) {
	r := &redact.Redactor{}
	r.Add("canary-client-secret-42")
	suite := Suite{Name: "pattern-6", Timestamp: time.Unix(0, 0), Duration: 2 * time.Second, Properties: map[string]string{"mode": "emulator"},
		Cases: []Case{
			{Pattern: 6, CheckID: "a.pass", Description: "passes", Labels: []string{"smoke"}, Owner: "team", Status: Passed},
			{Pattern: 6, CheckID: "b.fail", Description: "fails", Status: Failed, Message: "boom with canary-client-secret-42\nsecond line", Output: "Authorization: Bearer abcdefghijklmnopqrstuvwxyz"},
			{Pattern: 6, CheckID: "c.skip", Description: "skips", Status: Skipped, Message: "not applicable: needs capability dedicated-km"},
			{Pattern: 6, CheckID: "d.err", Description: "errs", Status: Errored, Message: "cluster did not start"},
		}}
	path := filepath.Join(t.TempDir(), "out", "junit.xml")
	if err := Write(path, []Suite{suite}, r); err != nil {
		t.Fatal(err)
	}
	raw, _ := Marshal([]Suite{suite}, r)
	if strings.Contains(string(raw), "canary-client-secret-42") || strings.Contains(string(raw), "abcdefghijklmnopqrstuvwxyz") {
		t.Fatalf("secret reached JUnit:\n%s", raw)
	}
	var any struct{ XMLName xml.Name }
	if err := xml.Unmarshal(raw, &any); err != nil || any.XMLName.Local != "testsuites" {
		t.Fatalf("not well-formed testsuites XML: %v", err)
	}
	s, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.Tests != 4 || s.Failures != 1 || s.Skipped != 1 || s.Errors != 1 {
		t.Fatalf("counts: %+v", s)
	}
	if s.Cases[0].Name != "[pattern-6] a.pass: passes" || s.Cases[0].CheckID != "a.pass" {
		t.Errorf("stable name/check-id: %+v", s.Cases[0])
	}
	if s.Cases[2].Message != "not applicable: needs capability dedicated-km" {
		t.Errorf("skip reason lost: %+v", s.Cases[2])
	}
	if strings.Contains(s.Cases[1].Message, "second line") {
		t.Errorf("message attribute should be the first line: %q", s.Cases[1].Message)
	}
}

func TestFirstLineNamesWhatTimedOut(t *testing.T) {
	got := firstLine("Timed out after 3.000s.\nrevocation never reached the gateway\nExpected success")
	if got != "Timed out after 3.000s: revocation never reached the gateway" {
		t.Fatalf("got %q", got)
	}
}
