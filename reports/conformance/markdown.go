package conformance

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/apim-conformance/apim-conformance/reports/redact"
)

var markdownCell = map[string]string{Passed: "pass", Failed: "**FAIL**", Skipped: "skip", Errored: "**ERROR**", "na": "n/a", "absent": "–"}

// RenderMarkdown renders the matrix as GitHub-flavoured Markdown, for a CI
// job summary (GitHub renders $GITHUB_STEP_SUMMARY, not HTML artifacts).
// Messages are left out: they live in summary.html and the JUnit.
func RenderMarkdown(runs []Run, red *redact.Redactor) []byte {
	if red == nil {
		red = redact.Default
	}
	p := buildPage(runs, "")
	var b bytes.Buffer
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ") }
	fmt.Fprintf(&b, "## WSO2 APIM pattern conformance: %s\n\n", p.Result)
	b.WriteString("| run | verdict | failure class | passed | failed | errors | skipped | n/a |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range p.Columns {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d | %d | %d |\n", esc(c.Label), c.Result, c.FailureClass,
			c.Stats.Passed, c.Stats.Failed, c.Stats.Errors, c.Stats.Skipped, c.Stats.NotApplicable)
	}
	b.WriteString("\n| check |")
	for _, c := range p.Columns {
		b.WriteString(" " + esc(c.Label) + " |")
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(p.Columns)) + "\n")
	for _, r := range p.Rows {
		b.WriteString("| `" + r.ID + "` |")
		for _, c := range r.Cells {
			b.WriteString(" " + markdownCell[c.Class] + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\nFailure messages, skip reasons, the phase timeline and measured figures: summary.html in the conformance-summary artifact.\n")
	return red.Bytes(b.Bytes())
}
