package conformance

import (
	"encoding/json"
	stdhtml "html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

func sample(faults ...string) Report {
	r := New("20260101-000000.000-p6", 6, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r.Mode = ModeEmulator
	r.Faults = faults
	r.Implementation = ImplementationFromInfo(map[string]string{"mode": "emulator", "platform": "tools/apimsim"})
	r.Timeouts = map[string]string{"multiplier": "1", "revocation": "3s"}
	r.Phases = []Phase{{Name: "emulator", Source: "platform", Duration: Dur(40 * time.Millisecond)}, {Name: "checks", Source: "suite", Duration: Dur(700 * time.Millisecond)}}
	r.Checks = []Check{
		{ID: "portal.publisher", Description: "the Publisher answers", Labels: []string{"portal", "smoke"}, Owner: "apim-conformance", Status: Passed, Duration: Dur(time.Millisecond)},
		{ID: "revocation.gateway", Description: "revocation reaches the gateway", Labels: []string{"revocation", "smoke"}, Status: Passed, Duration: Dur(30 * time.Millisecond)},
		{ID: "km.dedicated", Description: "a dedicated KM issues tokens", Labels: []string{"km"}, Status: Skipped, SkipReason: "not applicable: needs capability dedicated-km, which pattern 6 does not have"},
	}
	ms := 25.3
	r.Measurements = []Measurement{{Check: "revocation.gateway", Name: "revocation-propagation", Milliseconds: &ms, Value: "25.3ms"}}
	return r
}

func TestVerdicts(t *testing.T) {
	r := sample()
	r.Finalize(nil)
	if r.Result != Success || r.FailureClass != ClassNone {
		t.Errorf("all applicable passed, one n/a: got %s/%s, want success/none", r.Result, r.FailureClass)
	}
	if r.Statistics.NotApplicable != 1 || !r.Checks[2].NotApplicable {
		t.Errorf("n/a not counted: %+v", r.Statistics)
	}

	r = sample()
	r.Checks[1].Status, r.Checks[1].SkipReason = Skipped, "not run (excluded by the label filter or pending)"
	r.Finalize(nil)
	if r.Result != Partial {
		t.Errorf("an applicable check skipped: got %s, want partial (Gateway API: skipping a core test makes the claim partial)", r.Result)
	}
	if p := r.Profiles[0]; len(p.SkippedChecks) != 1 || p.SkippedChecks[0].Reason == "" {
		t.Errorf("skipped checks must keep their reason: %+v", p.SkippedChecks)
	}

	r = sample("gateway-ignores-revocation")
	r.Checks[1].Status, r.Checks[1].Message = Failed, "token still accepted"
	r.Finalize(nil)
	if r.Result != Failure || r.FailureClass != ClassCheck || !strings.Contains(r.FailureDetail, "revocation.gateway") {
		t.Errorf("a failed check: got %s/%s %q", r.Result, r.FailureClass, r.FailureDetail)
	}

	for _, class := range []string{ClassInfrastructure, ClassDeploy} {
		r = sample()
		for i := range r.Checks {
			r.Checks[i].Status, r.Checks[i].Message = Errored, "platform not available"
		}
		r.Finalize(&SetupFailure{Class: class, Message: "boom"})
		if r.Result != Failure || r.FailureClass != class {
			t.Errorf("setup failure %s: got %s/%s", class, r.Result, r.FailureClass)
		}
	}
}

func TestImplementationFromInfo(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	im := ImplementationFromInfo(map[string]string{
		"mode": "kind", "platform": "kind", "kind.nodeImage": "kindest/node:v1.35.0",
		"chart.apim.source": "https://helm.wso2.com", "chart.apim.version": "4.7.0-1", "chart.apim.chart": "wso2am-all-in-one",
		"image.apim": "wso2/wso2am:4.7.0@" + digest, "image.is": "wso2/wso2is:7.2.0", "image.is.digest": digest,
		"database": "mysql", "database.version": "8.4", "version.apim": "4.7.0", "namespace": "apim",
	})
	if im.Cluster != "kindest/node:v1.35.0" || im.Platform != "kind" {
		t.Errorf("cluster/platform: %+v", im)
	}
	if len(im.Charts) != 1 || im.Charts[0] != (Chart{Release: "apim", Chart: "wso2am-all-in-one", Source: "https://helm.wso2.com", Version: "4.7.0-1"}) {
		t.Errorf("charts: %+v", im.Charts)
	}
	if len(im.Images) != 2 || im.Images[0].Reference != "wso2/wso2am:4.7.0" || im.Images[0].Digest != digest || im.Images[1].Digest != digest {
		t.Errorf("images: %+v", im.Images)
	}
	if im.Database == nil || im.Database.Name != "mysql" || im.Versions["apim"] != "4.7.0" || im.Info["namespace"] != "apim" {
		t.Errorf("database/versions/info: %+v", im)
	}
}

func TestWriteRunValidatesAgainstSchema(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	r.Finalize(nil)
	if err := WriteRun(dir, r, &redact.Redactor{}); err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(filepath.Join(dir, FileYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateYAML(y); err != nil {
		t.Fatalf("written YAML does not validate: %v\n%s", err, y)
	}
	for _, want := range []string{"apiVersion: apim-conformance/v1alpha1", "kind: PatternConformanceReport", "result: success", "revocation-propagation"} {
		if !strings.Contains(string(y), want) {
			t.Errorf("YAML lacks %q", want)
		}
	}
	back, err := ReadRun(dir)
	if err != nil || len(back) != 1 || back[0].Checks[0].ID != "portal.publisher" || *back[0].Measurements[0].Milliseconds != 25.3 {
		t.Fatalf("read back: %v %+v", err, back)
	}
	html, _ := os.ReadFile(filepath.Join(dir, FileHTML))
	if n := strings.Count(string(html), "<tr data-check="); n != 3 {
		t.Errorf("matrix has %d rows, want 3", n)
	}
	assertSelfContained(t, string(html))
}

// assertSelfContained: the page must open from a CI artifact, offline.
func assertSelfContained(t *testing.T, html string) {
	t.Helper()
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script`), regexp.MustCompile(`(?i)<link[^>]+stylesheet`),
		regexp.MustCompile(`(?i)(src|href)="https?:`), regexp.MustCompile(`(?i)@import|@font-face|url\(`),
	} {
		if m := bad.FindString(html); m != "" {
			t.Errorf("summary.html is not self-contained: %q", m)
		}
	}
}

func TestSchemaRejectsBrokenReports(t *testing.T) {
	r := sample()
	r.Finalize(nil)
	good, _ := json.Marshal(r)
	if err := Validate(good); err != nil {
		t.Fatalf("good report rejected: %v", err)
	}
	for name, mutate := range map[string]func(m map[string]any){
		"unknown status": func(m map[string]any) { m["checks"].([]any)[0].(map[string]any)["status"] = "flaky" },
		"no verdict":     func(m map[string]any) { delete(m, "result") },
		"wrong version":  func(m map[string]any) { m["apiVersion"] = "v2" },
		"unknown field":  func(m map[string]any) { m["surprise"] = true },
		"bad date":       func(m map[string]any) { m["date"] = "yesterday" },
		"bad class":      func(m map[string]any) { m["failureClass"] = "cosmic-rays" },
	} {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		mutate(m)
		b, _ := json.Marshal(m)
		if Validate(b) == nil {
			t.Errorf("%s: the schema accepted it", name)
		}
	}
}

// TestEveryWriterRedacts plants secrets in every free-text field, some with
// characters HTML and JSON escape, and looks for them in every file.
func TestEveryWriterRedacts(t *testing.T) {
	red := &redact.Redactor{}
	secrets := []string{"Canary-Pass-1f2e3d", "s3cr&t<Canary>\"q", "CanaryClientSecret_9a8b7c"}
	red.Add(secrets...)
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
	r := sample()
	r.Checks[1].Status = Failed
	r.Checks[1].Message = "got 200 with Bearer " + jwt + " and password " + secrets[0] + " / " + secrets[1]
	r.Checks[2].SkipReason = "not applicable: " + secrets[2]
	r.Implementation.Info = map[string]string{"dsn": "root:" + secrets[0] + "@tcp(db)"}
	r.Timeouts["note"] = secrets[1]
	r.Finalize(nil)
	dir := t.TempDir()
	if err := WriteRun(dir, r, red); err != nil {
		t.Fatal(err)
	}
	merged := t.TempDir()
	if err := WriteMerged(merged, []Run{{Report: r, Dir: dir}}, red); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, merged} {
		files, _ := os.ReadDir(d)
		for _, f := range files {
			b, _ := os.ReadFile(filepath.Join(d, f.Name()))
			for _, s := range append(secrets, jwt, "s3cr&amp;t", `s3cr\u0026t`) {
				if strings.Contains(string(b), s) {
					t.Errorf("%s contains secret %q", f.Name(), s)
				}
			}
		}
	}
}

func TestMergeLabelsColumnsByPatternAndFaults(t *testing.T) {
	a, b := sample(), sample("gateway-ignores-revocation")
	b.RunID = "20260101-000100.000-p6"
	b.Checks[1].Status, b.Checks[1].Message = Failed, "token still accepted after revocation"
	a.Finalize(nil)
	b.Finalize(nil)
	out := t.TempDir()
	if err := WriteMerged(out, []Run{{Report: a}, {Report: b}}, nil); err != nil {
		t.Fatal(err)
	}
	items, err := ReadRun(out)
	if err != nil || len(items) != 2 {
		t.Fatalf("merged list: %v %d", err, len(items))
	}
	raw, _ := os.ReadFile(filepath.Join(out, FileHTML))
	html := stdhtml.UnescapeString(string(raw)) // html/template writes "+" as &#43;
	for _, want := range []string{"<th>pattern-6</th>", "<th>pattern-6 + gateway-ignores-revocation</th>", `title="token still accepted after revocation"`, `id="overall">failure`} {
		if !strings.Contains(html, want) {
			t.Errorf("merged summary lacks %q", want)
		}
	}
	if n := strings.Count(html, "<tr data-check="); n != 3 {
		t.Errorf("merged matrix has %d rows, want 3 (one per check, not per run)", n)
	}
	// The same column twice is told apart by run id.
	p := buildPage([]Run{{Report: a}, {Report: a}}, out)
	if p.Columns[0].Label == p.Columns[1].Label {
		t.Errorf("duplicate columns not disambiguated: %q", p.Columns[0].Label)
	}
}
