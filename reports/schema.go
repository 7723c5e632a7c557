// Package reports holds what the report writers share across packages: the
// JSON Schema of the conformance report, kept as a plain file next to this
// one so people and other tools can read it without Go.
package reports

import _ "embed"

// ConformanceReportSchema is conformance-report.schema.json. It is embedded
// (go:embed cannot reach a parent directory, hence this package) so the
// writers validate every report they write and `report merge` validates what
// it reads.
//
//go:embed conformance-report.schema.json
var ConformanceReportSchema []byte

// ConformanceReportSchemaURL is the schema's $id.
const ConformanceReportSchemaURL = "https://github.com/apim-conformance/apim-conformance/reports/conformance-report.schema.json"
