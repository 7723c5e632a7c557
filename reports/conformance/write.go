package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/apim-conformance/apim-conformance/reports"
	"github.com/apim-conformance/apim-conformance/reports/redact"
)

// File names in a run (or merge) directory.
const (
	FileYAML    = "conformance-report.yaml"
	FileJSON    = "conformance-report.json"
	FileHTML    = "summary.html"
	DirDiagnose = "diagnostics"
)

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

func compiled() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(reports.ConformanceReportSchema))
		if err != nil {
			schemaErr = fmt.Errorf("conformance-report.schema.json: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		// date-time is asserted, not just annotated: a report with a broken
		// date would not sort in a nightly history.
		c.AssertFormat()
		if err := c.AddResource(reports.ConformanceReportSchemaURL, doc); err != nil {
			schemaErr = err
			return
		}
		schema, schemaErr = c.Compile(reports.ConformanceReportSchemaURL)
	})
	return schema, schemaErr
}

// Validate checks a JSON document against reports/conformance-report.schema.json.
func Validate(doc []byte) error {
	s, err := compiled()
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("does not match conformance-report.schema.json: %w", err)
	}
	return nil
}

// ValidateYAML checks a YAML document against the schema.
func ValidateYAML(doc []byte) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	return Validate(j)
}

// Redacted returns a deep copy of v (a Report or a List) with every string
// passed through red. Redacting the model, not only the rendered bytes, is
// what keeps a secret from slipping through in an escaped form (&amp; in
// HTML, \u0026 in JSON) that a byte-level pass would not recognise.
func Redacted[T any](v T, red *redact.Redactor) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, err
	}
	redactValue(reflect.ValueOf(&out).Elem(), red)
	return out, nil
}

func redactValue(v reflect.Value, red *redact.Redactor) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(red.String(v.String()))
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			redactValue(v.Elem(), red)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				redactValue(v.Field(i), red)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			redactValue(v.Index(i), red)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := v.MapIndex(k)
			if e.Kind() == reflect.String {
				v.SetMapIndex(k, reflect.ValueOf(red.String(e.String())).Convert(e.Type()))
			}
		}
	}
}

// encode renders v as indented JSON and YAML, redacted at byte level too, and
// validates the JSON against the schema.
func encode(v any, red *redact.Redactor) (js, ym []byte, err error) {
	js, err = json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	js = append(red.Bytes(js), '\n')
	ym, err = yaml.JSONToYAML(js)
	if err != nil {
		return nil, nil, err
	}
	ym = red.Bytes(ym)
	return js, ym, Validate(js)
}

// WriteRun writes conformance-report.yaml, conformance-report.json and
// summary.html of one run into dir, all redacted. The files are written even
// when the report does not match the schema (so the mismatch can be seen);
// the error says so.
func WriteRun(dir string, r Report, red *redact.Redactor) error {
	if red == nil {
		red = redact.Default
	}
	r, err := Redacted(r, red)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, ym, verr := encode(r, red)
	if js == nil {
		return verr
	}
	// The report files first: the page links what exists.
	werr := errors.Join(write(dir, FileJSON, js), write(dir, FileYAML, ym))
	html, err := RenderHTML([]Run{{Report: r, Dir: dir}}, dir, red)
	if err != nil {
		return errors.Join(werr, err, verr)
	}
	return errors.Join(werr, write(dir, FileHTML, html), verr)
}

// WriteMerged writes one PatternConformanceReportList (YAML and JSON) and one
// summary.html for several runs into out.
func WriteMerged(out string, runs []Run, red *redact.Redactor) error {
	if red == nil {
		red = redact.Default
	}
	if len(runs) == 0 {
		return errors.New("no runs to merge")
	}
	list := List{APIVersion: APIVersion, Kind: ListKind, Date: time.Now().UTC(), Result: Success}
	for i := range runs {
		rr, err := Redacted(runs[i].Report, red)
		if err != nil {
			return err
		}
		runs[i].Report = rr
		list.Items = append(list.Items, rr)
		list.Result = Worst(list.Result, rr.Result)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	js, ym, verr := encode(list, red)
	if js == nil {
		return verr
	}
	html, err := RenderHTML(runs, out, red)
	if err != nil {
		return err
	}
	return errors.Join(write(out, FileJSON, js), write(out, FileYAML, ym), write(out, FileHTML, html), verr)
}

func write(dir, name string, b []byte) error {
	return os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

// ReadRun reads the report of one run directory (conformance-report.json, or
// the YAML when the JSON is missing) and validates it. A merged directory
// (a PatternConformanceReportList) yields all its items, so merges nest.
func ReadRun(dir string) ([]Report, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileJSON))
	if errors.Is(err, os.ErrNotExist) {
		var y []byte
		if y, err = os.ReadFile(filepath.Join(dir, FileYAML)); err == nil {
			b, err = yaml.YAMLToJSON(y)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: no conformance report (%v); is it a run directory under reports/out/?", dir, err)
	}
	if err := Validate(b); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	var head struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, err
	}
	if head.Kind == ListKind {
		var l List
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return []Report{r}, nil
}
