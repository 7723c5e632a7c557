// Package junit writes the JUnit XML every run leaves behind, in the shape
// Jenkins and the common GitHub report actions read: <testsuites> with one
// <testsuite> per pattern, stable testcase names "[pattern-N] <check-id>:
// <description>", labels and owners as properties, skip reasons kept, failure
// output trimmed, and every byte passed through the run's redactor.
package junit

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

// Case statuses.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
	Errored = "error" // the platform could not be brought up: not a check's fault
)

// Case is one check's result.
type Case struct {
	Pattern     int
	CheckID     string
	Description string
	Labels      []string
	Owner       string
	Status      string
	Message     string // failure message or skip reason
	Output      string // captured progress output
	Duration    time.Duration
	Properties  map[string]string
}

// Name is the stable testcase name.
func (c Case) Name() string {
	return fmt.Sprintf("[pattern-%d] %s: %s", c.Pattern, c.CheckID, c.Description)
}

// Suite is one pattern's run.
type Suite struct {
	Name       string
	Timestamp  time.Time
	Duration   time.Duration
	Properties map[string]string
	Cases      []Case
}

type xmlProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xmlMessage struct {
	Message string `xml:"message,attr,omitempty"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

type xmlCase struct {
	Name       string         `xml:"name,attr"`
	Classname  string         `xml:"classname,attr"`
	Time       string         `xml:"time,attr"`
	Properties *[]xmlProperty `xml:"properties>property,omitempty"`
	Skipped    *xmlMessage    `xml:"skipped,omitempty"`
	Failure    *xmlMessage    `xml:"failure,omitempty"`
	Error      *xmlMessage    `xml:"error,omitempty"`
	SystemOut  string         `xml:"system-out,omitempty"`
}

type xmlSuite struct {
	Name       string         `xml:"name,attr"`
	Tests      int            `xml:"tests,attr"`
	Failures   int            `xml:"failures,attr"`
	Errors     int            `xml:"errors,attr"`
	Skipped    int            `xml:"skipped,attr"`
	Time       string         `xml:"time,attr"`
	Timestamp  string         `xml:"timestamp,attr"`
	Properties *[]xmlProperty `xml:"properties>property,omitempty"`
	Cases      []xmlCase      `xml:"testcase"`
}

type xmlSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suites   []xmlSuite `xml:"testsuite"`
}

// maxOutput trims captured output to the end, where the failure is.
const maxOutput = 16 << 10

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func props(m map[string]string, r *redact.Redactor) *[]xmlProperty {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	out := make([]xmlProperty, 0, len(m))
	for _, k := range keys {
		out = append(out, xmlProperty{Name: k, Value: r.String(m[k])})
	}
	return &out
}

func trimOutput(s string) string {
	if len(s) <= maxOutput {
		return s
	}
	return "…(trimmed)…\n" + s[len(s)-maxOutput:]
}

// firstLine is the message attribute: CI UIs show it in one line. Gomega's
// "Timed out after 3s." says nothing alone, so the line after it (what was
// awaited) is joined to it.
func firstLine(s string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	s = lines[0]
	if (strings.HasPrefix(s, "Timed out after") || strings.HasPrefix(s, "Context was cancelled")) && len(lines) > 1 {
		s = strings.TrimSuffix(s, ".") + ": " + lines[1]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Marshal renders suites as JUnit XML through the redactor.
func Marshal(suites []Suite, r *redact.Redactor) ([]byte, error) {
	if r == nil {
		r = redact.Default
	}
	root := xmlSuites{Name: "apim-conformance"}
	var total time.Duration
	for _, s := range suites {
		xs := xmlSuite{Name: s.Name, Time: secs(s.Duration), Timestamp: s.Timestamp.UTC().Format("2006-01-02T15:04:05"), Properties: props(s.Properties, r)}
		for _, c := range s.Cases {
			p := map[string]string{"check-id": c.CheckID, "pattern": fmt.Sprint(c.Pattern)}
			if len(c.Labels) > 0 {
				p["labels"] = strings.Join(c.Labels, ",")
			}
			if c.Owner != "" {
				p["owner"] = c.Owner
			}
			for k, v := range c.Properties {
				p[k] = v
			}
			xc := xmlCase{Name: r.String(c.Name()), Classname: fmt.Sprintf("pattern-%d", c.Pattern), Time: secs(c.Duration), Properties: props(p, r)}
			msg := r.String(c.Message)
			switch c.Status {
			case Failed:
				xc.Failure = &xmlMessage{Message: firstLine(msg), Type: "failed", Text: msg}
				xs.Failures++
			case Errored:
				xc.Error = &xmlMessage{Message: firstLine(msg), Type: "error", Text: msg}
				xs.Errors++
			case Skipped:
				xc.Skipped = &xmlMessage{Message: firstLine(msg)}
				xs.Skipped++
			case Passed:
			default:
				return nil, fmt.Errorf("check %s has unknown status %q", c.CheckID, c.Status)
			}
			if c.Status != Passed && c.Output != "" {
				xc.SystemOut = trimOutput(r.String(c.Output))
			}
			xs.Cases = append(xs.Cases, xc)
			xs.Tests++
		}
		root.Tests += xs.Tests
		root.Failures += xs.Failures
		root.Errors += xs.Errors
		root.Skipped += xs.Skipped
		total += s.Duration
		root.Suites = append(root.Suites, xs)
	}
	root.Time = secs(total)
	b, err := xml.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// Write renders suites to path, creating its directory.
func Write(path string, suites []Suite, r *redact.Redactor) error {
	b, err := Marshal(suites, r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Read parses a JUnit file written by Write back into counts and cases, for
// summaries and merges.
func Read(path string) (Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Summary{}, err
	}
	var root xmlSuites
	if err := xml.Unmarshal(b, &root); err != nil {
		return Summary{}, fmt.Errorf("%s is not JUnit XML: %w", path, err)
	}
	s := Summary{Tests: root.Tests, Failures: root.Failures, Errors: root.Errors, Skipped: root.Skipped}
	for _, xs := range root.Suites {
		for _, xc := range xs.Cases {
			row := SummaryCase{Name: xc.Name, Status: Passed}
			if xc.Properties != nil {
				for _, p := range *xc.Properties {
					if p.Name == "check-id" {
						row.CheckID = p.Value
					}
				}
			}
			switch {
			case xc.Failure != nil:
				row.Status, row.Message = Failed, xc.Failure.Message
			case xc.Error != nil:
				row.Status, row.Message = Errored, xc.Error.Message
			case xc.Skipped != nil:
				row.Status, row.Message = Skipped, xc.Skipped.Message
			}
			s.Cases = append(s.Cases, row)
		}
	}
	return s, nil
}

// Summary is what Read returns.
type Summary struct {
	Tests, Failures, Errors, Skipped int
	Cases                            []SummaryCase
}

// SummaryCase is one row of a Summary.
type SummaryCase struct {
	Name, CheckID, Status, Message string
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
