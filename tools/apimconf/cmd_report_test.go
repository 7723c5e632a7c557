package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	stdhtml "html"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apim-conformance/apim-conformance/suites/framework"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	creport "github.com/apim-conformance/apim-conformance/reports/conformance"
	"github.com/apim-conformance/apim-conformance/reports/junit"
)

// requireTestenv reports missing test tooling: a failure under
// REQUIRE_TESTENV=1 (CI, where .ci/run installs it), a skip naming the
// install command otherwise.
func requireTestenv(t *testing.T, what, install string) {
	t.Helper()
	switch os.Getenv("REQUIRE_TESTENV") {
	case "1", "true", "yes":
		t.Fatalf("%s is missing and REQUIRE_TESTENV=1: %s", what, install)
	}
	t.Skipf("%s is missing: %s (REQUIRE_TESTENV=1 makes this a failure)", what, install)
}

// demo runs `apimconf demo` in-process into reportDir and returns the run
// directory and the combined output.
func demo(t *testing.T, reportDir, runID string, wantCode int, extra ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	args := append([]string{"demo", "--report-dir", reportDir, "--run-id", runID}, extra...)
	var out, errb bytes.Buffer
	if code := runWithContext(ctx, args, &out, &errb); code != wantCode {
		t.Fatalf("apimconf %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, wantCode, tail(out.String(), 3000), tail(errb.String(), 3000))
	}
	return filepath.Join(reportDir, runID), out.String() + errb.String()
}

func TestReportHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"report", "--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "report merge --out DIR") {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, args := range [][]string{{"report", "merge"}, {"report", "merge", "--out", t.TempDir()}, {"report", "frobnicate"}, {"report", "validate"}} {
		out.Reset()
		errb.Reset()
		if code := run(args, &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%v: exit %d, want 2 with a message (%s)", args, code, errb.String())
		}
	}
}

// TestDemoWritesReadableReports is the acceptance path of issue #6: a demo
// run leaves junit.xml, a schema-valid conformance-report.yaml and
// summary.html; two runs (with and without a fault) merge into one summary.
func TestDemoWritesReadableReports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the suite")
	}
	reports := t.TempDir()
	clean, _ := demo(t, reports, "rep-clean", 0)
	faulty, _ := demo(t, reports, "rep-fault", 1, "--fault", "gateway-ignores-revocation")
	for _, dir := range []string{clean, faulty} {
		for _, f := range []string{"junit.xml", "report.json", creport.FileYAML, creport.FileJSON, creport.FileHTML} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("run %s lacks %s", filepath.Base(dir), f)
			}
		}
		y, _ := os.ReadFile(filepath.Join(dir, creport.FileYAML))
		if err := creport.ValidateYAML(y); err != nil {
			t.Errorf("%s/%s: %v", filepath.Base(dir), creport.FileYAML, err)
		}
		switch err := junit.ValidateXSD(context.Background(), filepath.Join(dir, "junit.xml")); {
		case errors.Is(err, junit.ErrNoValidator) && os.Getenv("REQUIRE_TESTENV") != "1":
			t.Logf("junit.xml not checked against reports/junit/junit.xsd: %v", err)
		case err != nil:
			t.Error(err)
		}
	}
	reps, err := creport.ReadRun(faulty)
	if err != nil {
		t.Fatal(err)
	}
	r := reps[0]
	if r.Result != creport.Failure || r.FailureClass != creport.ClassCheck || r.Mode != creport.ModeEmulator || strings.Join(r.Faults, ",") != "gateway-ignores-revocation" {
		t.Errorf("faulty run: result %s class %s mode %s faults %v", r.Result, r.FailureClass, r.Mode, r.Faults)
	}
	names := map[string]bool{}
	for _, p := range r.Phases {
		names[p.Name] = true
	}
	if !names["emulator"] || !names["checks"] {
		t.Errorf("phases %+v lack emulator/checks", r.Phases)
	}
	figures := map[string]bool{}
	for _, m := range r.Measurements {
		figures[m.Name] = m.Milliseconds != nil
	}
	for _, f := range []string{"gateway-latency-p50", "gateway-latency-p95", "token-issuance.resident-km"} {
		if !figures[f] {
			t.Errorf("figure %s missing or not in milliseconds: %v", f, figures)
		}
	}
	if r.Timeouts["revocation"] == "" {
		t.Errorf("effective timeouts not echoed: %v", r.Timeouts)
	}

	out := t.TempDir()
	var so, se bytes.Buffer
	md := filepath.Join(out, "summary.md")
	if code := run([]string{"report", "merge", "--out", out, clean, faulty, "--markdown", md}, &so, &se); code != 0 {
		t.Fatalf("merge: exit %d\n%s%s", code, so.String(), se.String())
	}
	raw, _ := os.ReadFile(filepath.Join(out, creport.FileHTML))
	html := stdhtml.UnescapeString(string(raw))
	for _, want := range []string{"<th>pattern-6</th>", "<th>pattern-6 + gateway-ignores-revocation</th>", `href="../`} {
		if !strings.Contains(html, want) {
			t.Errorf("merged summary lacks %q", want)
		}
	}
	if b, err := os.ReadFile(md); err != nil || !strings.Contains(string(b), "| `revocation.gateway` | pass | **FAIL** |") {
		t.Errorf("markdown matrix: %v\n%s", err, b)
	}
	items, err := creport.ReadRun(out)
	if err != nil || len(items) != 2 {
		t.Fatalf("merged report: %v, %d items", err, len(items))
	}
	// Merging the parent directory finds both runs and ignores "latest".
	so.Reset()
	if code := run([]string{"report", "merge", reports, "--out", t.TempDir()}, &so, &se); code != 0 || !strings.Contains(so.String(), "merged 2 run(s)") {
		t.Errorf("merge of a directory of runs: exit %d\n%s%s", code, so.String(), se.String())
	}
}

var (
	jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`)
	// client_secret / consumerSecret values as the suite or emulator would print them.
	secretValue = regexp.MustCompile(`(?i)(?:client_?secret|consumer_?secret)"?\s*[:=]\s*"?([A-Za-z0-9_\-.~+/]{8,})`)
)

func canary(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// TestCanarySecretsNeverReachReports runs the pattern-6 suite end to end
// with canary admin passwords and asserts that no canary, no access token
// and no client secret appears in any file of the report directory.
//
// The first run uses one canary for both admins and must pass: the emulator
// accepts only the configured password, so a pass proves the canary flowed
// from APIMCONF_ADMIN_PASSWORD through the config into both the clients and
// the emulator. The second run gives IS a different canary: the IS admin
// calls must then fail with 401 (proving APIMCONF_IS_ADMIN_PASSWORD flowed),
// which also puts failure messages and captured output into every report.
func TestCanarySecretsNeverReachReports(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the suite")
	}
	reports := t.TempDir()
	admin, is := canary("CanaryAdmin"), canary("CanaryIS")

	t.Setenv("APIMCONF_ADMIN_PASSWORD", admin)
	t.Setenv("APIMCONF_IS_ADMIN_PASSWORD", admin)
	_, raw1 := demo(t, reports, "canary-same", 0, "-v")

	t.Setenv("APIMCONF_IS_ADMIN_PASSWORD", is)
	dir2, raw2 := demo(t, reports, "canary-diff", 1, "-v", "--fault", "gateway-ignores-revocation")
	reps, err := creport.ReadRun(dir2)
	if err != nil {
		t.Fatal(err)
	}
	flowed := false
	for _, c := range reps[0].Checks {
		if c.ID == "token.is7" && c.Status == creport.Failed && strings.Contains(c.Message, "401") {
			flowed = true
		}
	}
	if !flowed {
		t.Errorf("with a different IS admin canary, token.is7 should fail with 401 (the canary did not reach the IS client?)")
	}

	// Whatever token or client secret the raw (unredacted, -v) output shows
	// must not be in the files either.
	needles := []string{admin, is}
	for _, raw := range []string{raw1, raw2} {
		needles = append(needles, jwtShape.FindAllString(raw, -1)...)
		for _, m := range secretValue.FindAllStringSubmatch(raw, -1) {
			if m[1] != "REDACTED" {
				needles = append(needles, m[1])
			}
		}
	}
	files := 0
	err = filepath.WalkDir(reports, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		rel, _ := filepath.Rel(reports, p)
		for _, n := range needles {
			if strings.Contains(s, n) {
				t.Errorf("%s contains a secret (%.12s…)", rel, n)
			}
		}
		if m := jwtShape.FindString(s); m != "" {
			t.Errorf("%s contains a JWT (%.16s…)", rel, m)
		}
		if m := secretValue.FindStringSubmatch(s); m != nil && !strings.Contains(m[1], "REDACTED") {
			t.Errorf("%s contains a client secret value (%.6s…)", rel, m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Errorf("only %d report files scanned; the runs did not write their reports", files)
	}
}

// browserFailed reports a browser that would not start or answer: a
// missing binary is a missing tool, anything else a failure.
func browserFailed(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		requireTestenv(t, "Chromium", "apt-get install chromium")
	}
	t.Fatalf("chromium: %v", err)
}

// chromium finds the browser for the rendering check.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	requireTestenv(t, "Chromium", "apt-get install chromium")
	return ""
}

// TestSummaryRendersInChromium opens a demo run's summary.html in headless
// Chromium, checks the title and the matrix, proves the page makes no
// network request, and takes a PNG screenshot (kept in the test's temp dir;
// with APIMCONF_SCREENSHOT=1 the run goes to reports/out and the screenshot
// to reports/out/<run>/summary.png for a human look).
func TestSummaryRendersInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the suite")
	}
	browser := chromium(t)
	reports := t.TempDir()
	keep := os.Getenv("APIMCONF_SCREENSHOT") != ""
	if keep {
		root, err := framework.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		reports = filepath.Join(root, "reports", "out")
	}
	runID := "browser-" + time.Now().UTC().Format("20060102-150405")
	dir, _ := demo(t, reports, runID, 1, "--fault", "gateway-ignores-revocation")
	reps, err := creport.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, creport.FileHTML)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // root in a container: Chromium's sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	// Listen before navigating; the callback must stay fast and must not
	// call chromedp, so it only records under a lock.
	var mu sync.Mutex
	var external []string
	if err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && !strings.HasPrefix(e.Request.URL, "file://") && !strings.HasPrefix(e.Request.URL, "data:") {
			mu.Lock()
			external = append(external, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		browserFailed(t, err)
	}
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		browserFailed(t, err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate("file://"+page)); err != nil {
		browserFailed(t, err)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil {
		browserFailed(t, err)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#matrix tbody tr').length`))
	if err != nil {
		browserFailed(t, err)
	}
	columns, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#matrix thead th').length`))
	if err != nil {
		browserFailed(t, err)
	}
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		browserFailed(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(title, "apim-conformance: pattern conformance: pattern-6 + gateway-ignores-revocation") {
		t.Errorf("title %q", title)
	}
	if rows != len(reps[0].Checks) || rows < 12 {
		t.Errorf("matrix has %d rows, want one per check (%d)", rows, len(reps[0].Checks))
	}
	if columns != 2 {
		t.Errorf("matrix has %d header cells, want 2 (check + one run)", columns)
	}
	if len(external) > 0 {
		t.Errorf("summary.html is not self-contained; it requested %v", external)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	shot := filepath.Join(t.TempDir(), "summary.png")
	if keep {
		shot = filepath.Join(dir, "summary.png")
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
