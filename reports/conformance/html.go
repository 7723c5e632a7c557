package conformance

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

// Run is a report and the directory it came from (for links to its JUnit,
// report files and diagnostics). Dir may be empty: no links.
type Run struct {
	Report Report
	Dir    string
}

//go:embed summary.html.tmpl
var summaryTemplate string

// The page must work from a CI artifact opened offline: no scripts, no
// fonts, no external CSS; the timeline is inline SVG.
var summaryTmpl = template.Must(template.New("summary").Parse(summaryTemplate))

// Page is what the template renders; exported for tests that inspect it.
type Page struct {
	Title      string
	Generated  string
	Result     string
	Columns    []column
	Rows       []row
	Timeline   timeline
	Figures    []figureRow
	PhaseNames []legend
}

type column struct {
	Label, RunID, Mode, Result, FailureClass, FailureDetail, Date, Platform, Cluster string
	Stats                                                                            Statistics
	Links                                                                            []link
	Charts                                                                           []Chart
	Images                                                                           []Image
	Database                                                                         string
	Timeouts                                                                         string
}

type link struct{ Text, Href string }

type row struct {
	ID, Description, Owner, Labels string
	Cells                          []cell
}

type cell struct {
	Class, Text, Title string
}

type figureRow struct {
	Check, Name string
	Values      []string
}

type legend struct{ Name, Color string }

type timeline struct {
	Width, Height int
	Bars          []bar
}

type bar struct {
	Label     string
	Y, LabelY int
	TotalY    int
	Total     string
	TotalX    int
	Segments  []segment
}

type segment struct {
	X, Width   float64
	Y, H       int
	Color      string
	Name, Text string
	ShowText   bool
	TextX      float64
	TextY      int
}

// Phase colours: the known phases in run order, then a fallback palette.
var phaseColors = map[string]string{
	"cluster": "#8c6bb1", "images": "#6a51a3", "database": "#3182bd", "deploy": "#e6550d",
	"emulator": "#9e9ac8", "platform-ready": "#fd8d3c", "checks": "#31a354", "teardown": "#969696",
}

var fallbackColors = []string{"#636363", "#bcbddc", "#74c476", "#fdae6b", "#9ecae1"}

var statusText = map[string]string{Passed: "pass", Failed: "FAIL", Skipped: "skip", Errored: "ERROR"}

// RenderHTML renders summary.html for runs. out is the directory the page
// is written to: links to the runs' files are relative to it.
func RenderHTML(runs []Run, out string, red *redact.Redactor) ([]byte, error) {
	if red == nil {
		red = redact.Default
	}
	p := buildPage(runs, out)
	var b bytes.Buffer
	if err := summaryTmpl.Execute(&b, p); err != nil {
		return nil, err
	}
	return red.Bytes(b.Bytes()), nil
}

func buildPage(runs []Run, out string) Page {
	p := Page{Generated: time.Now().UTC().Format(time.RFC3339), Result: Success}
	labels := map[string]int{}
	for _, r := range runs {
		labels[r.Report.Column()]++
	}
	var names []string
	for _, r := range runs {
		rep := r.Report
		p.Result = Worst(p.Result, rep.Result)
		c := column{Label: rep.Column(), RunID: rep.RunID, Mode: rep.Mode, Result: rep.Result,
			FailureClass: rep.FailureClass, FailureDetail: rep.FailureDetail, Date: rep.Date.Format(time.RFC3339),
			Platform: rep.Implementation.Platform, Cluster: rep.Implementation.Cluster, Stats: rep.Statistics,
			Charts: rep.Implementation.Charts, Images: rep.Implementation.Images}
		if labels[c.Label] > 1 {
			// The same pattern and faults twice (a rerun): the run id tells them apart.
			c.Label += " (" + rep.RunID + ")"
		}
		if db := rep.Implementation.Database; db != nil {
			c.Database = strings.TrimSpace(strings.Join(nonEmpty(db.Name, db.Version, db.Image), " "))
		}
		var ts []string
		for _, k := range sortedKeys(rep.Timeouts) {
			ts = append(ts, k+"="+rep.Timeouts[k])
		}
		c.Timeouts = strings.Join(ts, " ")
		for _, prev := range p.Columns {
			if prev.Label == c.Label { // the same run given twice
				c.Label += fmt.Sprintf(" #%d", len(p.Columns)+1)
				break
			}
		}
		c.Links = runLinks(r, out)
		p.Columns = append(p.Columns, c)
		names = append(names, c.Label)
	}
	p.Title = "pattern conformance: " + strings.Join(names, " | ")
	p.Rows = matrix(runs)
	p.Figures = figures(runs)
	p.Timeline, p.PhaseNames = drawTimeline(runs, p.Columns)
	return p
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// runLinks points at the run's files relative to the page, so a directory
// of artifacts can be moved or zipped whole.
func runLinks(r Run, out string) []link {
	if r.Dir == "" {
		return nil
	}
	var ls []link
	for _, f := range []struct{ text, name string }{
		{"JUnit", "junit.xml"}, {"report (YAML)", FileYAML}, {"Ginkgo JSON", "report.json"}, {"diagnostics", DirDiagnose},
	} {
		full := filepath.Join(r.Dir, f.name)
		if _, err := os.Stat(full); err != nil {
			continue
		}
		href := full
		if rel, err := filepath.Rel(out, full); err == nil {
			href = filepath.ToSlash(rel)
		}
		if f.name == DirDiagnose {
			href = strings.TrimSuffix(href, "/") + "/"
		}
		ls = append(ls, link{Text: f.text, Href: href})
	}
	return ls
}

// matrix has one row per check ID (in first-seen order, so the catalogue's
// order survives) and one cell per run.
func matrix(runs []Run) []row {
	var order []string
	info := map[string]Check{}
	for _, r := range runs {
		for _, c := range r.Report.Checks {
			if _, ok := info[c.ID]; !ok {
				order = append(order, c.ID)
				info[c.ID] = c
			}
		}
	}
	var rows []row
	for _, id := range order {
		c := info[id]
		rw := row{ID: id, Description: c.Description, Owner: c.Owner, Labels: strings.Join(c.Labels, ", ")}
		for _, r := range runs {
			rw.Cells = append(rw.Cells, cellFor(r.Report, id))
		}
		rows = append(rows, rw)
	}
	return rows
}

func cellFor(r Report, id string) cell {
	for _, c := range r.Checks {
		if c.ID != id {
			continue
		}
		cl := cell{Class: c.Status, Text: statusText[c.Status]}
		switch c.Status {
		case Passed:
			cl.Title = "passed in " + c.Duration.Text
		case Skipped:
			cl.Title = c.SkipReason
			if c.NotApplicable {
				cl.Class, cl.Text = "na", "n/a"
			}
		default:
			cl.Title = c.Message
		}
		if len(cl.Title) > 1500 {
			cl.Title = cl.Title[:1500] + "…"
		}
		return cl
	}
	return cell{Class: "absent", Text: "–", Title: "not in this run"}
}

func figures(runs []Run) []figureRow {
	type key struct{ check, name string }
	var order []key
	vals := map[key][]string{}
	for i, r := range runs {
		for _, m := range r.Report.Measurements {
			k := key{m.Check, m.Name}
			if _, ok := vals[k]; !ok {
				order = append(order, k)
				vals[k] = make([]string, len(runs))
			}
			vals[k][i] = m.Value
		}
	}
	var out []figureRow
	for _, k := range order {
		v := vals[k]
		for i := range v {
			if v[i] == "" {
				v[i] = "–"
			}
		}
		out = append(out, figureRow{Check: k.check, Name: k.name, Values: v})
	}
	return out
}

// drawTimeline lays out one bar per run, phases left to right, on a linear
// scale shared by all runs (so a slow deploy looks slow next to a fast one).
func drawTimeline(runs []Run, cols []column) (timeline, []legend) {
	// Each bar has its label above it, so long labels (pattern + faults)
	// never collide with the bar.
	const left, right, labelH, barH, gap, width = 4, 90, 16, 22, 10, 960
	tl := timeline{Width: width}
	var max time.Duration
	for _, r := range runs {
		var t time.Duration
		for _, ph := range r.Report.Phases {
			t += ph.Duration.D()
		}
		if t > max {
			max = t
		}
	}
	if max <= 0 {
		max = time.Millisecond
	}
	scale := float64(width-left-right) / float64(max)
	seen := map[string]bool{}
	var names []string
	y := 10
	for i, r := range runs {
		b := bar{Label: cols[i].Label, LabelY: y + labelH - 4}
		y += labelH
		b.Y, b.TotalY = y, y+barH/2+5
		x := float64(left)
		var total time.Duration
		for _, ph := range r.Report.Phases {
			if !seen[ph.Name] {
				seen[ph.Name] = true
				names = append(names, ph.Name)
			}
			w := float64(ph.Duration.D()) * scale
			s := segment{X: x, Width: w, Y: y, H: barH, Name: ph.Name, Text: ph.Duration.Text, TextX: x + 3, TextY: y + barH/2 + 4}
			// A label only where it fits (about 6.5 px per character).
			s.ShowText = w > float64(len(ph.Name))*6.5+8
			x += w
			total += ph.Duration.D()
			b.Segments = append(b.Segments, s)
		}
		b.Total, b.TotalX = Dur(total).Text, int(x)+6
		tl.Bars = append(tl.Bars, b)
		y += barH + gap
	}
	tl.Height = y + 4
	var leg []legend
	fallback := 0
	colors := map[string]string{} // per page: phaseColors stays read-only
	for _, n := range names {
		c, ok := phaseColors[n]
		if !ok {
			c = fallbackColors[fallback%len(fallbackColors)]
			fallback++
		}
		colors[n] = c
		leg = append(leg, legend{Name: n, Color: c})
	}
	for bi := range tl.Bars {
		for si := range tl.Bars[bi].Segments {
			tl.Bars[bi].Segments[si].Color = colors[tl.Bars[bi].Segments[si].Name]
		}
	}
	sort.SliceStable(leg, func(i, j int) bool { return phaseOrder(leg[i].Name) < phaseOrder(leg[j].Name) })
	return tl, leg
}

func phaseOrder(name string) int {
	for i, n := range []string{"cluster", "images", "database", "deploy", "emulator", "platform-ready", "checks", "teardown"} {
		if n == name {
			return i
		}
	}
	return 100
}

// String renders a one-line summary, for logs.
func (r Report) String() string {
	s := r.Statistics
	return fmt.Sprintf("%s: %s (%d passed, %d failed, %d errors, %d skipped, %d not applicable; failure class %s)",
		r.Column(), r.Result, s.Passed, s.Failed, s.Errors, s.Skipped, s.NotApplicable, r.FailureClass)
}
