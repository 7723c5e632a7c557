package suite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	creport "github.com/apim-conformance/apim-conformance/reports/conformance"
	"github.com/apim-conformance/apim-conformance/reports/junit"
	"github.com/apim-conformance/apim-conformance/reports/redact"
	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
	"github.com/apim-conformance/apim-conformance/suites/platform"
)

// PhasedError may be implemented by an error of platform.Up to say which
// part of bringing the platform up failed ("cluster", "images", "database",
// "deploy"). Without it a platform that never came up is an infrastructure
// failure; with "deploy" it is a deploy failure (the chart went in, WSO2 did
// not become ready), which is the distinction a nightly reader needs first.
type PhasedError interface {
	error
	FailedPhase() string
}

// runFacts is what writeReports needs besides the Ginkgo report; a value so
// tests can build one without a platform.
type runFacts struct {
	cfg    framework.Config
	plat   *platform.Platform
	upErr  error
	checks map[string]conformance.Check
}

// writeReports writes every file of the run directory (junit.xml,
// report.json, conformance-report.yaml/.json, summary.html), each through
// redact.Default, and points reports/out/latest at it. It writes as much as it
// can and returns every error.
func writeReports(r Report, st *state) error {
	return writeRunReports(r, runFacts{cfg: cfg, plat: st.plat, upErr: st.upErr, checks: st.checks})
}

func writeRunReports(r Report, f runFacts) error {
	dir := f.cfg.RunDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var errs []error
	suite := junitSuite(r, f)
	if err := junit.Write(filepath.Join(dir, "junit.xml"), []junit.Suite{suite}, redact.Default); err != nil {
		errs = append(errs, fmt.Errorf("junit.xml: %w", err))
	}
	if err := writeGinkgoJSON(r, filepath.Join(dir, "report.json")); err != nil {
		errs = append(errs, fmt.Errorf("report.json: %w", err))
	}
	rep := conformanceReport(r, f, suite)
	if err := creport.WriteRun(dir, rep, redact.Default); err != nil {
		errs = append(errs, fmt.Errorf("conformance report: %w", err))
	}
	if err := linkLatest(f.cfg.ReportDir, f.cfg.RunID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// writeGinkgoJSON keeps Ginkgo's full JSON for machines, redacted: the
// strings of the report are redacted before encoding (so escaping cannot hide
// a secret) and the bytes once more after.
func writeGinkgoJSON(r Report, path string) error {
	red := redactGinkgo(r)
	if err := reporters.GenerateJSONReport(red, path); err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, redact.Default.Bytes(b), 0o644)
}

// redactGinkgo returns r with the free-text fields people and tools print
// redacted: failure messages, captured output, report entry values, spec
// events. Structural fields (locations, states) are left alone.
func redactGinkgo(r Report) Report {
	specs := make(types.SpecReports, len(r.SpecReports))
	for i, s := range r.SpecReports {
		s.CapturedGinkgoWriterOutput = redact.String(s.CapturedGinkgoWriterOutput)
		s.CapturedStdOutErr = redact.String(s.CapturedStdOutErr)
		s.Failure.Message = redact.String(s.Failure.Message)
		s.Failure.ForwardedPanic = redact.String(s.Failure.ForwardedPanic)
		if s.Failure.AdditionalFailure != nil {
			af := *s.Failure.AdditionalFailure
			af.Failure.Message = redact.String(af.Failure.Message)
			s.Failure.AdditionalFailure = &af
		}
		entries := make(types.ReportEntries, len(s.ReportEntries))
		for j, e := range s.ReportEntries {
			// The raw value may be a struct holding a secret; keep only its
			// redacted text form.
			e.Value = types.WrapEntryValue(redact.String(e.StringRepresentation()))
			entries[j] = e
		}
		s.ReportEntries = entries
		events := make(types.SpecEvents, len(s.SpecEvents))
		for j, ev := range s.SpecEvents {
			ev.Message = redact.String(ev.Message)
			events[j] = ev
		}
		s.SpecEvents = events
		specs[i] = s
	}
	r.SpecReports = specs
	reasons := make([]string, len(r.SpecialSuiteFailureReasons))
	for i, s := range r.SpecialSuiteFailureReasons {
		reasons[i] = redact.String(s)
	}
	r.SpecialSuiteFailureReasons = reasons
	return r
}

// junitSuite turns the Ginkgo report into the JUnit model: one case per
// It, stable names, labels and owner as properties, measured figures as
// measured.* properties.
func junitSuite(r Report, f runFacts) junit.Suite {
	suite := junit.Suite{Name: fmt.Sprintf("pattern-%d", f.cfg.Pattern), Timestamp: r.StartTime, Duration: r.RunTime,
		Properties: map[string]string{"platform": f.cfg.Platform, "run-id": f.cfg.RunID}}
	if f.plat != nil {
		for k, v := range f.plat.Info {
			suite.Properties[k] = v
		}
	}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		id, desc := checkID(s.LeafNodeText)
		c := junit.Case{Pattern: f.cfg.Pattern, CheckID: id, Description: desc, Labels: s.Labels(), Duration: itDuration(s), Output: s.CapturedGinkgoWriterOutput}
		if chk, ok := f.checks[id]; ok {
			c.Owner = chk.Owner
		}
		for _, e := range s.ReportEntries {
			if c.Properties == nil {
				c.Properties = map[string]string{}
			}
			c.Properties["measured."+e.Name] = e.StringRepresentation()
		}
		switch {
		case s.State.Is(types.SpecStatePassed):
			c.Status = junit.Passed
		case f.upErr != nil:
			// The platform never came up: every check that did not pass is
			// an error of the infrastructure, not a failed check. Ginkgo
			// marks the specs after a failed BeforeAll as skipped; they are
			// errors here too, so a dead platform never reads as "skipped".
			c.Status, c.Message = junit.Errored, "platform not available: "+f.upErr.Error()
		case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
			c.Status, c.Message = junit.Skipped, s.Failure.Message
			if c.Message == "" {
				c.Message = "not run (excluded by the label filter or pending)"
			}
		default:
			c.Status = junit.Failed
			c.Message = s.Failure.Message
			if s.Failure.Location.FileName != "" {
				c.Message += fmt.Sprintf("\n(at %s:%d)", filepath.Base(s.Failure.Location.FileName), s.Failure.Location.LineNumber)
			}
		}
		suite.Cases = append(suite.Cases, c)
	}
	return suite
}

// itDuration is the It node's own time. The spec's RunTime of the first
// check also holds BeforeAll (bringing the platform up), which would make
// portal.publisher look like the slowest check of every run.
func itDuration(s types.SpecReport) time.Duration {
	for _, ev := range s.SpecEvents {
		if ev.SpecEventType == types.SpecEventNodeEnd && ev.NodeType == types.NodeTypeIt {
			return ev.Duration
		}
	}
	return s.RunTime
}

// nodeDuration sums the durations of nodes of type t across the run.
func nodeDuration(r Report, t types.NodeType) (time.Duration, bool) {
	var d time.Duration
	found := false
	for _, s := range r.SpecReports {
		for _, ev := range s.SpecEvents {
			if ev.SpecEventType == types.SpecEventNodeEnd && ev.NodeType.Is(t) {
				d += ev.Duration
				found = true
			}
		}
	}
	return d, found
}

// conformanceReport builds the PatternConformanceReport from the same cases
// as the JUnit, so the two never disagree.
func conformanceReport(r Report, f runFacts, suite junit.Suite) creport.Report {
	rep := creport.New(f.cfg.RunID, f.cfg.Pattern, r.StartTime)
	rep.Faults = append([]string(nil), f.cfg.Faults...)
	info := map[string]string{}
	if f.plat != nil {
		info = f.plat.Info
	}
	rep.Mode = creport.NormalizeMode(info[creport.InfoMode], f.cfg.Platform)
	rep.Implementation = creport.ImplementationFromInfo(info)
	if rep.Implementation.Platform == "unknown" {
		rep.Implementation.Platform = f.cfg.Platform
	}
	rep.Timeouts = effectiveTimeouts(f.cfg.Timeouts)

	attempts := map[string]int{}
	for _, s := range r.SpecReports {
		if s.LeafNodeType == types.NodeTypeIt {
			id, _ := checkID(s.LeafNodeText)
			attempts[id] = s.NumAttempts
			for _, e := range s.ReportEntries {
				rep.Measurements = append(rep.Measurements, measurement(id, e))
			}
		}
	}
	for _, c := range suite.Cases {
		cc := creport.Check{ID: c.CheckID, Description: c.Description, Labels: c.Labels, Owner: c.Owner,
			Status: c.Status, Attempts: attempts[c.CheckID], Duration: creport.Dur(c.Duration)}
		if c.Status == junit.Skipped {
			cc.SkipReason = c.Message
		} else {
			cc.Message = c.Message
		}
		rep.Checks = append(rep.Checks, cc)
	}

	rep.Phases = phases(r, f)
	rep.Artifacts = map[string]string{"junit": "junit.xml", "ginkgo": "report.json", "summary": creport.FileHTML, "json": creport.FileJSON}
	if st, err := os.Stat(filepath.Join(f.cfg.RunDir(), creport.DirDiagnose)); err == nil && st.IsDir() {
		rep.Artifacts["diagnostics"] = creport.DirDiagnose + "/"
	}
	rep.Finalize(setupFailure(f))
	return rep
}

// setupFailure classifies a platform that did not come up (WSO2 testgrid's
// INFRA_PHASE_ERROR vs DEPLOY_PHASE_ERROR).
func setupFailure(f runFacts) *creport.SetupFailure {
	if f.upErr == nil {
		return nil
	}
	sf := &creport.SetupFailure{Class: creport.ClassInfrastructure, Message: f.upErr.Error()}
	var pe PhasedError
	switch {
	case errors.As(f.upErr, &pe):
		if pe.FailedPhase() == "deploy" {
			sf.Class = creport.ClassDeploy
		}
		sf.Message = pe.FailedPhase() + ": " + sf.Message
	case f.plat != nil:
		// Up returned a platform, so cluster, images, database and the
		// releases are in place: what failed is the deployment becoming
		// ready (or answering at all).
		sf.Class = creport.ClassDeploy
	}
	return sf
}

// phases are the platform's own phases, then what the suite measured
// around the checks: waiting for readiness (BeforeAll minus the platform's
// phases), the checks (the It nodes) and teardown (AfterAll: diagnostics,
// cleanup, close).
func phases(r Report, f runFacts) []creport.Phase {
	var out []creport.Phase
	var platformTotal time.Duration
	if f.plat != nil {
		for _, p := range f.plat.Phases {
			out = append(out, creport.Phase{Name: p.Name, Source: "platform", Duration: creport.Dur(p.Duration)})
			platformTotal += p.Duration
		}
	}
	if before, ok := nodeDuration(r, types.NodeTypeBeforeAll); ok {
		if ready := before - platformTotal; ready > 0 {
			out = append(out, creport.Phase{Name: "platform-ready", Source: "suite", Duration: creport.Dur(ready)})
		}
	}
	checks, _ := nodeDuration(r, types.NodeTypeIt)
	out = append(out, creport.Phase{Name: "checks", Source: "suite", Duration: creport.Dur(checks)})
	if after, ok := nodeDuration(r, types.NodeTypeAfterAll); ok {
		out = append(out, creport.Phase{Name: "teardown", Source: "suite", Duration: creport.Dur(after)})
	}
	return out
}

// measurement turns a report entry into a figure: durations in
// milliseconds (entries of this process carry the raw value; entries read
// back from JSON only the nanoseconds), everything as text.
func measurement(check string, e types.ReportEntry) creport.Measurement {
	m := creport.Measurement{Check: check, Name: e.Name, Value: e.StringRepresentation()}
	var d time.Duration
	ok := false
	switch v := e.GetRawValue().(type) {
	case time.Duration:
		d, ok = v, true
	case framework.Duration:
		d, ok = time.Duration(v), true
	default:
		if parsed, err := time.ParseDuration(m.Value); err == nil {
			d, ok = parsed, true
		}
	}
	if ok {
		ms := float64(d.Microseconds()) / 1000
		m.Milliseconds = &ms
		if m.Value == "" {
			m.Value = d.String()
		}
	}
	return m
}

// effectiveTimeouts lists every timeout by its config name, scaled by the
// multiplier (what the run actually waited for); poll and progressEvery are
// intervals and are not scaled.
func effectiveTimeouts(t framework.Timeouts) map[string]string {
	out := map[string]string{"multiplier": strconv.FormatFloat(t.Multiplier, 'g', -1, 64)}
	rv := reflect.ValueOf(t)
	for i := 0; i < rv.NumField(); i++ {
		name := strings.Split(rv.Type().Field(i).Tag.Get("json"), ",")[0]
		d, ok := rv.Field(i).Interface().(framework.Duration)
		if !ok {
			continue
		}
		if name == "poll" || name == "progressEvery" {
			out[name] = time.Duration(d).String()
		} else {
			out[name] = t.Scaled(d).String()
		}
	}
	return out
}

// linkLatest points <root>/latest at the run directory (relative, so the
// tree can be moved or archived).
func linkLatest(root, runID string) error {
	link := filepath.Join(root, "latest")
	tmp := link + ".tmp-" + fmt.Sprint(time.Now().UnixNano())
	if err := os.Symlink(runID, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		if strings.Contains(err.Error(), "file exists") || strings.Contains(err.Error(), "directory") {
			os.RemoveAll(link)
			return os.Symlink(runID, link)
		}
		return err
	}
	return nil
}
