package suite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/apim-conformance/apim-conformance/reports/junit"
	"github.com/apim-conformance/apim-conformance/reports/redact"
)

// writeReports writes junit.xml and the Ginkgo JSON report into the run
// directory and points reports/out/latest at it.
func writeReports(r Report, st *state) error {
	dir := cfg.RunDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	suite := junit.Suite{Name: fmt.Sprintf("pattern-%d", cfg.Pattern), Timestamp: r.StartTime, Duration: r.RunTime,
		Properties: map[string]string{"platform": cfg.Platform, "run-id": cfg.RunID}}
	if st.plat != nil {
		for k, v := range st.plat.Info {
			suite.Properties[k] = v
		}
	}
	for _, s := range r.SpecReports {
		if s.LeafNodeType != types.NodeTypeIt {
			continue
		}
		id, desc := checkID(s.LeafNodeText)
		c := junit.Case{Pattern: cfg.Pattern, CheckID: id, Description: desc, Labels: s.Labels(), Duration: s.RunTime, Output: s.CapturedGinkgoWriterOutput}
		if chk, ok := st.checks[id]; ok {
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
		case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
			c.Status, c.Message = junit.Skipped, s.Failure.Message
		case st.upErr != nil:
			// The platform never came up: every check is an error of the
			// infrastructure, not a failed check.
			c.Status, c.Message = junit.Errored, "platform not available: "+st.upErr.Error()
		default:
			c.Status = junit.Failed
			c.Message = s.Failure.Message
			if s.Failure.Location.FileName != "" {
				c.Message += fmt.Sprintf("\n(at %s:%d)", filepath.Base(s.Failure.Location.FileName), s.Failure.Location.LineNumber)
			}
		}
		suite.Cases = append(suite.Cases, c)
	}
	if err := junit.Write(filepath.Join(dir, "junit.xml"), []junit.Suite{suite}, redact.Default); err != nil {
		return err
	}
	jsonPath := filepath.Join(dir, "report.json")
	if err := reporters.GenerateJSONReport(r, jsonPath); err != nil {
		return err
	}
	if b, err := os.ReadFile(jsonPath); err == nil {
		if err := os.WriteFile(jsonPath, redact.Default.Bytes(b), 0o644); err != nil {
			return err
		}
	}
	return linkLatest(cfg.ReportDir, cfg.RunID)
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
