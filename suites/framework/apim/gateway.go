package apim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// Gateway error codes (facts: wso2-rest-flow.md §4.2).
const (
	CodeInvalidCredentials = "900901"
	CodeMissingCredentials = "900902"
	CodeResourceForbidden  = "900908"
)

// Gateway invokes APIs through the gateway pass-through port.
type Gateway struct {
	HTTP *http.Client
	Base string // https://<gw>:8243
}

// Invocation is the gateway's answer.
type Invocation struct {
	Status int
	Header http.Header
	Body   []byte
	// Error is the WSO2 error body, when the gateway answered with one.
	Error *rest.Error
}

func (i Invocation) String() string {
	if i.Error != nil {
		return fmt.Sprintf("HTTP %d code %s (%s)", i.Status, i.Error.Code, i.Error.Message)
	}
	b := string(i.Body)
	if len(b) > 200 {
		b = b[:200] + "…"
	}
	return fmt.Sprintf("HTTP %d %s", i.Status, b)
}

// URL is the invocation URL of context/version/resource.
func (g Gateway) URL(apiContext, version, resource string) string {
	return strings.TrimRight(g.Base, "/") + "/" + strings.Trim(apiContext, "/") + "/" + version + "/" + strings.TrimLeft(resource, "/")
}

// Invoke GETs an API resource with an optional bearer token ("" sends none).
func (g Gateway) Invoke(ctx context.Context, apiContext, version, resource, token string) (Invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.URL(apiContext, version, resource), nil)
	if err != nil {
		return Invocation{}, err
	}
	req.Header.Set("User-Agent", rest.UserAgent)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := g.HTTP.Do(req)
	if err != nil {
		return Invocation{}, fmt.Errorf("invoking %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Invocation{}, fmt.Errorf("reading the gateway answer: %w", err)
	}
	inv := Invocation{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if resp.StatusCode >= 400 {
		if e, ok := rest.ParseError(body); ok {
			inv.Error = &e
		}
	}
	return inv, nil
}

// GatewayREST is the gateway node's own REST API (/api/am/gateway/v2).
type GatewayREST struct{ C *rest.Client }

// StartupHealthy calls the readiness check the Helm charts use; nil when the
// gateway has deployed all APIs at startup.
func (g GatewayREST) StartupHealthy(ctx context.Context) error {
	_, err := g.C.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/server-startup-healthcheck", Header: http.Header{"Accept": {"text/plain, */*"}}, Want: []int{200}}, nil)
	return err
}

// ArtifactDeployed reports whether the gateway holds the API's artifact.
func (g GatewayREST) ArtifactDeployed(ctx context.Context, name, version string) (bool, error) {
	_, err := g.C.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/api-artifact",
		Query: url.Values{"apiName": {name}, "version": {version}, "tenantDomain": {"carbon.super"}}, Want: []int{200}}, nil)
	if rest.IsStatus(err, 404) {
		return false, nil
	}
	return err == nil, err
}
