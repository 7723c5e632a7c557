package suite

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	creport "github.com/apim-conformance/apim-conformance/reports/conformance"
	"github.com/apim-conformance/apim-conformance/reports/junit"
	"github.com/apim-conformance/apim-conformance/reports/redact"
	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/suites/platform"
)

func spec(text string, state types.SpecState, labels ...string) types.SpecReport {
	s := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, State: state, LeafNodeLabels: labels, NumAttempts: 1, RunTime: 500 * time.Millisecond}
	s.SpecEvents = types.SpecEvents{{SpecEventType: types.SpecEventNodeEnd, NodeType: types.NodeTypeIt, Duration: 20 * time.Millisecond}}
	return s
}

func facts(t *testing.T) runFacts {
	c := framework.DefaultConfig()
	c.ReportDir, c.RunID, c.Timeouts = t.TempDir(), "unit-run", framework.SimTimeouts()
	return runFacts{cfg: c, checks: map[string]conformance.Check{"revocation.gateway": {ID: "revocation.gateway", Owner: "team-gw"}}}
}

// TestReportsOfAPlatformThatNeverCameUp: Ginkgo marks the specs after a
// failed BeforeAll as skipped; the reports must call them errors of the
// infrastructure, not skips (a dead platform must never look green-ish).
func TestReportsOfAPlatformThatNeverCameUp(t *testing.T) {
	f := facts(t)
	f.upErr = errors.New("creating the kind cluster: docker not reachable")
	first := spec("portal.publisher: the Publisher answers", types.SpecStateFailed, "portal", "smoke")
	first.Failure.Message = "platform: creating the kind cluster"
	rest := spec("revocation.gateway: revocation reaches the gateway", types.SpecStateSkipped, "revocation")
	rest.Failure.Message = "Spec skipped because a BeforeAll node failed"
	r := types.Report{StartTime: time.Now(), SpecReports: types.SpecReports{first, rest}}
	if err := writeRunReports(r, f); err != nil {
		t.Fatal(err)
	}
	s, err := junit.Read(filepath.Join(f.cfg.RunDir(), "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Errors != 2 || s.Skipped != 0 {
		t.Errorf("junit: %d errors %d skipped, want 2 errors", s.Errors, s.Skipped)
	}
	reps, err := creport.ReadRun(f.cfg.RunDir())
	if err != nil {
		t.Fatal(err)
	}
	if rep := reps[0]; rep.FailureClass != creport.ClassInfrastructure || rep.Result != creport.Failure || rep.Statistics.Errors != 2 {
		t.Errorf("conformance report: class %s result %s stats %+v", rep.FailureClass, rep.Result, rep.Statistics)
	}

	// A platform that came up but never became ready is a deploy failure.
	f.plat = &platform.Platform{Info: map[string]string{"mode": "kind", "kind.nodeImage": "kindest/node:v1.35.0"}, Phases: []platform.Phase{{Name: "cluster", Duration: time.Minute}, {Name: "deploy", Duration: 5 * time.Minute}}}
	f.upErr = errors.New("platform readiness: DCR answered 500 for 10m")
	if err := writeRunReports(r, f); err != nil {
		t.Fatal(err)
	}
	reps, _ = creport.ReadRun(f.cfg.RunDir())
	if rep := reps[0]; rep.FailureClass != creport.ClassDeploy || rep.Mode != creport.ModeKind || rep.Implementation.Cluster != "kindest/node:v1.35.0" {
		t.Errorf("deploy failure: class %s mode %s cluster %q", rep.FailureClass, rep.Mode, rep.Implementation.Cluster)
	}
	if got := reps[0].Phases; len(got) < 3 || got[0].Name != "cluster" || got[1].Name != "deploy" {
		t.Errorf("phases: %+v", got)
	}
}

// TestEveryRunFileIsRedacted plants secrets and a JWT in every free-text
// field of a Ginkgo report and looks for them in every file the run writes.
func TestEveryRunFileIsRedacted(t *testing.T) {
	secret := "Unit-Canary-5e6f7a8b"
	redact.Add(secret)
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
	f := facts(t)
	f.plat = &platform.Platform{Info: map[string]string{"mode": "emulator", "platform": "tools/apimsim", "note": "pw=" + secret}}
	failed := spec("revocation.gateway: revocation reaches the gateway", types.SpecStateFailed, "revocation", "smoke")
	failed.Failure.Message = "token " + jwt + " still accepted; admin password " + secret
	failed.Failure.Location.FileName = "/x/revocation.go"
	failed.CapturedGinkgoWriterOutput = "POST /oauth2/token -> 200 {\"access_token\":\"" + jwt + "\",\"client_secret\":\"abcdefghij12\"} " + secret
	failed.ReportEntries = types.ReportEntries{{Name: "revocation-propagation", Value: types.WrapEntryValue(25 * time.Millisecond)}, {Name: "leak", Value: types.WrapEntryValue(secret)}}
	failed.SpecEvents = append(failed.SpecEvents, types.SpecEvent{SpecEventType: types.SpecEventByStart, Message: "using " + secret})
	passed := spec("portal.publisher: the Publisher answers", types.SpecStatePassed, "portal")
	r := types.Report{StartTime: time.Now(), SpecReports: types.SpecReports{passed, failed}}
	if err := writeRunReports(r, f); err != nil {
		t.Fatal(err)
	}
	files, _ := os.ReadDir(f.cfg.RunDir())
	if len(files) < 5 {
		t.Fatalf("only %d files written", len(files))
	}
	for _, e := range files {
		b, _ := os.ReadFile(filepath.Join(f.cfg.RunDir(), e.Name()))
		for _, s := range []string{secret, jwt, "abcdefghij12"} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s contains %q", e.Name(), s)
			}
		}
	}
	reps, err := creport.ReadRun(f.cfg.RunDir())
	if err != nil {
		t.Fatal(err)
	}
	rep := reps[0]
	if rep.FailureClass != creport.ClassCheck || rep.Checks[1].Owner != "team-gw" || rep.Checks[1].Duration.Milliseconds != 20 {
		t.Errorf("class %s, owner %q, duration %+v (want the It node's own 20ms)", rep.FailureClass, rep.Checks[1].Owner, rep.Checks[1].Duration)
	}
	var prop *creport.Measurement
	for i, m := range rep.Measurements {
		if m.Name == "revocation-propagation" {
			prop = &rep.Measurements[i]
		}
	}
	if prop == nil || prop.Milliseconds == nil || *prop.Milliseconds != 25 || prop.Value != "25ms" {
		t.Errorf("revocation-propagation figure: %+v", prop)
	}
	if rep.Timeouts["revocation"] != "3s" || rep.Timeouts["multiplier"] != "1" {
		t.Errorf("timeouts %v", rep.Timeouts)
	}
}
