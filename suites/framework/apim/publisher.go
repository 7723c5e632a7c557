// Package apim holds typed clients of the APIM REST APIs the checks use:
// Publisher v4, DevPortal v3, Admin v4, the internal data API, the gateway's
// own REST API and gateway invocation. Field names follow WSO2's published
// contracts (../shared/wso2-rest-specs); the emulator validates every request
// against them, so a drift here fails the self-tests.
package apim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// Base paths.
const (
	PublisherBase = "/api/am/publisher/v4"
	DevPortalBase = "/api/am/devportal/v3"
	AdminBase     = "/api/am/admin/v4"
	InternalBase  = "/internal/data/v1"
	GatewayBase   = "/api/am/gateway/v2"
)

// Scopes each API needs (facts: wso2-rest-flow.md §1.3).
var (
	PublisherScopes = []string{"apim:api_view", "apim:api_create", "apim:api_publish", "apim:api_manage", "apim:api_delete"}
	DevPortalScopes = []string{"apim:subscribe", "apim:app_manage", "apim:sub_manage"}
	AdminScopes     = []string{"apim:admin", "apim:admin_operations"}
)

// Publisher is the Publisher v4 client.
type Publisher struct{ C *rest.Client }

// Endpoint is one entry of an API's endpointConfig.
type Endpoint struct {
	URL string `json:"url"`
}

// EndpointConfig is the http endpoint configuration.
type EndpointConfig struct {
	EndpointType        string   `json:"endpoint_type"`
	ProductionEndpoints Endpoint `json:"production_endpoints"`
	SandboxEndpoints    Endpoint `json:"sandbox_endpoints"`
}

// Operation is one resource of an API.
type Operation struct {
	Target           string `json:"target"`
	Verb             string `json:"verb"`
	AuthType         string `json:"authType,omitempty"`
	ThrottlingPolicy string `json:"throttlingPolicy,omitempty"`
}

// API is the subset of the Publisher API object the suite creates and reads.
type API struct {
	ID              string         `json:"id,omitempty"`
	Name            string         `json:"name"`
	Context         string         `json:"context"`
	Version         string         `json:"version"`
	EndpointConfig  EndpointConfig `json:"endpointConfig"`
	Policies        []string       `json:"policies"`
	Operations      []Operation    `json:"operations"`
	Transport       []string       `json:"transport,omitempty"`
	SecurityScheme  []string       `json:"securityScheme,omitempty"`
	Visibility      string         `json:"visibility,omitempty"`
	LifeCycleStatus string         `json:"lifeCycleStatus,omitempty"`
}

// CreateAPI creates an API (201).
func (p Publisher) CreateAPI(ctx context.Context, api API) (API, error) {
	var out API
	_, err := p.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/apis", Body: api, Want: []int{201}}, &out)
	if err != nil {
		return out, fmt.Errorf("creating API %s: %w", api.Name, err)
	}
	return out, nil
}

// DeleteAPI deletes an API.
func (p Publisher) DeleteAPI(ctx context.Context, id string) error {
	_, err := p.C.Do(ctx, rest.Request{Method: http.MethodDelete, Path: "/apis/" + url.PathEscape(id), Want: []int{200, 204}}, nil)
	return err
}

// Revision is an API revision.
type Revision struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// CreateRevision snapshots the API (201).
func (p Publisher) CreateRevision(ctx context.Context, apiID, description string) (Revision, error) {
	var out Revision
	_, err := p.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/apis/" + url.PathEscape(apiID) + "/revisions",
		Body: map[string]string{"description": description}, Want: []int{201}}, &out)
	if err != nil {
		return out, fmt.Errorf("creating a revision: %w", err)
	}
	return out, nil
}

// DeploymentTarget is one element of the deploy-revision body.
type DeploymentTarget struct {
	Name               string `json:"name"`
	VHost              string `json:"vhost"`
	DisplayOnDevportal bool   `json:"displayOnDevportal"`
}

// DeployRevision deploys a revision to gateway environments. The spec says
// 200, WSO2's 4.7 suite sees 201: any 2xx is accepted.
func (p Publisher) DeployRevision(ctx context.Context, apiID, revisionID string, targets []DeploymentTarget) error {
	_, err := p.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/apis/" + url.PathEscape(apiID) + "/deploy-revision",
		Query: url.Values{"revisionId": {revisionID}}, Body: targets}, nil)
	if err != nil {
		return fmt.Errorf("deploying revision %s: %w", revisionID, err)
	}
	return nil
}

// Deployment is one APIRevisionDeployment.
type Deployment struct {
	RevisionUUID         string `json:"revisionUuid"`
	Name                 string `json:"name"`
	VHost                string `json:"vhost"`
	Status               string `json:"status"`
	LiveGatewayCount     int    `json:"liveGatewayCount"`
	DeployedGatewayCount int    `json:"deployedGatewayCount"`
	FailedGatewayCount   int    `json:"failedGatewayCount"`
}

// Acked reports whether gateways acknowledged the deployment, as WSO2's own
// suite judges it: live and deployed counts above zero, none failed beyond live.
func (d Deployment) Acked() bool {
	return d.LiveGatewayCount > 0 && d.DeployedGatewayCount > 0 && d.DeployedGatewayCount+d.FailedGatewayCount <= d.LiveGatewayCount
}

// Deployments lists where an API's revisions are deployed.
func (p Publisher) Deployments(ctx context.Context, apiID string) ([]Deployment, error) {
	var out struct {
		List []Deployment `json:"list"`
	}
	_, err := p.C.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/apis/" + url.PathEscape(apiID) + "/deployments", Want: []int{200}}, &out)
	return out.List, err
}

// ChangeLifecycle applies a lifecycle action such as Publish and returns the
// resulting state.
func (p Publisher) ChangeLifecycle(ctx context.Context, apiID, action string) (string, error) {
	var out struct {
		WorkflowStatus string `json:"workflowStatus"`
		LifecycleState struct {
			State string `json:"state"`
		} `json:"lifecycleState"`
	}
	_, err := p.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/apis/change-lifecycle",
		Query: url.Values{"apiId": {apiID}, "action": {action}}, Want: []int{200, 202}}, &out)
	if err != nil {
		return "", fmt.Errorf("lifecycle action %s: %w", action, err)
	}
	return out.LifecycleState.State, nil
}

// GatewayEnvironment is an environment from /settings.
type GatewayEnvironment struct {
	Name   string `json:"name"`
	VHosts []struct {
		Host string `json:"host"`
	} `json:"vhosts"`
}

// Environments reads the gateway environments and their vhosts from /settings.
func (p Publisher) Environments(ctx context.Context) ([]GatewayEnvironment, error) {
	var out struct {
		Environment []GatewayEnvironment `json:"environment"`
	}
	_, err := p.C.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/settings", Want: []int{200}}, &out)
	if err != nil {
		return nil, fmt.Errorf("reading publisher settings: %w", err)
	}
	return out.Environment, nil
}
