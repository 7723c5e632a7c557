package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"sigs.k8s.io/yaml"
)

// specFile ties a WSO2 contract file to the base path it is served under on a
// real node (see shared/wso2-rest-specs/README.md: the files' own servers
// entries are examples, not the deployed paths).
type specFile struct {
	File    string
	Base    string
	Swagger bool // Swagger 2.0, converted to OpenAPI 3 on load
}

var specFiles = []specFile{
	{File: "publisher-v4.yaml", Base: "/api/am/publisher/v4"},
	{File: "devportal-v3.yaml", Base: "/api/am/devportal/v3"},
	{File: "admin-v4.yaml", Base: "/api/am/admin/v4"},
	{File: "dcr-v0.17.yaml", Base: "/client-registration/v0.17"},
	{File: "internal-data-v1.yaml", Base: "/internal/data/v1"},
	{File: "gateway-v2.yaml", Base: "/api/am/gateway/v2", Swagger: true},
}

// contract is one parsed spec with its router.
type contract struct {
	specFile
	Doc    *openapi3.T
	Router routers.Router
}

type specSet struct {
	dir       string
	contracts []*contract
}

// byPath picks the contract whose base path covers p.
func (s *specSet) byPath(p string) *contract {
	for _, c := range s.contracts {
		if p == c.Base || strings.HasPrefix(p, c.Base+"/") {
			return c
		}
	}
	return nil
}

// The parsed documents are immutable after load, so one copy per directory is
// shared by every Platform in the process: parsing publisher-v4.yaml alone
// takes far longer than the rest of Start, and tests start many platforms.
var (
	specCacheMu sync.Mutex
	specCache   = map[string]*specCacheEntry{}
)

type specCacheEntry struct {
	once sync.Once
	set  *specSet
	err  error
}

func loadSpecs(dir string) (*specSet, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	specCacheMu.Lock()
	e := specCache[abs]
	if e == nil {
		e = &specCacheEntry{}
		specCache[abs] = e
	}
	specCacheMu.Unlock()
	e.once.Do(func() { e.set, e.err = parseSpecs(abs) })
	return e.set, e.err
}

func parseSpecs(dir string) (*specSet, error) {
	set := &specSet{dir: dir, contracts: make([]*contract, len(specFiles))}
	errs := make([]error, len(specFiles))
	var wg sync.WaitGroup
	for i, sf := range specFiles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			set.contracts[i], errs[i] = parseSpec(dir, sf)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return set, nil
}

func parseSpec(dir string, sf specFile) (*contract, error) {
	path := filepath.Join(dir, sf.File)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read WSO2 contract: %w", err)
	}
	var doc *openapi3.T
	if sf.Swagger {
		var d2 openapi2.T
		if err := yaml.Unmarshal(data, &d2); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if doc, err = openapi2conv.ToV3(&d2); err != nil {
			return nil, fmt.Errorf("%s: convert Swagger 2.0: %w", path, err)
		}
		// The gateway contract names an OAuth2Security scheme it never
		// defines, while the real node answers the health check without
		// auth and the artifact API with Basic admin. Security is enforced
		// by hand in the handlers instead (see gatewayMgmt).
		doc.Security = nil
		for _, pi := range doc.Paths.Map() {
			for _, op := range pi.Operations() {
				op.Security = &openapi3.SecurityRequirements{}
			}
		}
	} else {
		if data, err = patchResponseRefs(data); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		loader := openapi3.NewLoader()
		if doc, err = loader.LoadFromData(data); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	doc.Servers = openapi3.Servers{{URL: sf.Base}}
	// WSO2's files carry examples that contradict their own schemas (API
	// audiences, for instance); those are documentation slips, not contract,
	// so example/default checks are switched off for the router's document
	// validation.
	router, err := legacy.NewRouter(doc, openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation())
	if err != nil {
		return nil, fmt.Errorf("%s: router: %w", path, err)
	}
	return &contract{specFile: sf, Doc: doc, Router: router}, nil
}

// findSpecDir resolves Options.SpecDir: explicit value, then APIMSIM_SPEC_DIR,
// then shared/wso2-rest-specs (or ../shared/wso2-rest-specs) searched upward
// from the working directory and from the executable.
func findSpecDir(explicit string) (string, error) {
	check := func(d string) bool {
		st, err := os.Stat(filepath.Join(d, specFiles[0].File))
		return err == nil && !st.IsDir()
	}
	if explicit != "" {
		if !check(explicit) {
			return "", fmt.Errorf("spec dir %q has no %s: point --spec-dir / Options.SpecDir at shared/wso2-rest-specs", explicit, specFiles[0].File)
		}
		return explicit, nil
	}
	if env := os.Getenv("APIMSIM_SPEC_DIR"); env != "" {
		if !check(env) {
			return "", fmt.Errorf("APIMSIM_SPEC_DIR=%q has no %s: point it at shared/wso2-rest-specs", env, specFiles[0].File)
		}
		return env, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, start := range starts {
		for d := start; ; d = filepath.Dir(d) {
			for _, cand := range []string{filepath.Join(d, "shared", "wso2-rest-specs"), filepath.Join(d, "..", "shared", "wso2-rest-specs")} {
				if check(cand) {
					return filepath.Clean(cand), nil
				}
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("cannot find the WSO2 REST contracts (shared/wso2-rest-specs): set APIMSIM_SPEC_DIR, pass --spec-dir, or set Options.SpecDir to the directory holding publisher-v4.yaml")
}

// patchResponseRefs converts the YAML to JSON and repairs responses that
// $ref a schema instead of a response object (internal-data-v1.yaml's
// deployed-revisions and undeployed-revision "default" entries). The intent is
// plain: an Error body, so that is what the repaired response says.
func patchResponseRefs(data []byte) ([]byte, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(js, []byte(`"$ref":"#/components/schemas/`)) {
		return js, nil
	}
	var doc map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	changed := false
	for _, pi := range paths {
		ops, _ := pi.(map[string]any)
		for _, op := range ops {
			opm, _ := op.(map[string]any)
			resps, _ := opm["responses"].(map[string]any)
			for code, r := range resps {
				rm, _ := r.(map[string]any)
				ref, _ := rm["$ref"].(string)
				if strings.HasPrefix(ref, "#/components/schemas/") {
					resps[code] = map[string]any{
						"description": "Unexpected error",
						"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": ref}}},
					}
					changed = true
				}
			}
		}
	}
	if !changed {
		return js, nil
	}
	return json.Marshal(doc)
}
