package apim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/apim-conformance/apim-conformance/reports/redact"
	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// DevPortal is the DevPortal v3 client.
type DevPortal struct{ C *rest.Client }

// Application is a DevPortal application.
type Application struct {
	ApplicationID    string `json:"applicationId,omitempty"`
	Name             string `json:"name"`
	ThrottlingPolicy string `json:"throttlingPolicy"`
	Description      string `json:"description,omitempty"`
	TokenType        string `json:"tokenType,omitempty"`
}

// CreateApplication creates an application (201, or 202 under a workflow).
func (d DevPortal) CreateApplication(ctx context.Context, app Application) (Application, error) {
	var out Application
	_, err := d.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/applications", Body: app, Want: []int{201, 202}}, &out)
	if err != nil {
		return out, fmt.Errorf("creating application %s: %w", app.Name, err)
	}
	return out, nil
}

// DeleteApplication removes an application.
func (d DevPortal) DeleteApplication(ctx context.Context, id string) error {
	_, err := d.C.Do(ctx, rest.Request{Method: http.MethodDelete, Path: "/applications/" + url.PathEscape(id), Want: []int{200, 204}}, nil)
	return err
}

// Subscription is a DevPortal subscription.
type Subscription struct {
	SubscriptionID   string `json:"subscriptionId,omitempty"`
	ApplicationID    string `json:"applicationId"`
	APIID            string `json:"apiId"`
	ThrottlingPolicy string `json:"throttlingPolicy"`
	Status           string `json:"status,omitempty"`
}

// Subscribe subscribes an application to an API (201, or 202 under a workflow).
func (d DevPortal) Subscribe(ctx context.Context, s Subscription) (Subscription, error) {
	var out Subscription
	_, err := d.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/subscriptions", Body: s, Want: []int{201, 202}}, &out)
	if err != nil {
		return out, fmt.Errorf("subscribing application to API: %w", err)
	}
	return out, nil
}

// KeyRequest is ApplicationKeyGenerateRequest.
type KeyRequest struct {
	KeyType                 string   `json:"keyType"`
	KeyManager              string   `json:"keyManager,omitempty"`
	GrantTypesToBeSupported []string `json:"grantTypesToBeSupported"`
	CallbackURL             string   `json:"callbackUrl,omitempty"`
	Scopes                  []string `json:"scopes,omitempty"`
	ValidityTime            string   `json:"validityTime,omitempty"`
}

// Keys is ApplicationKey.
type Keys struct {
	KeyMappingID   string `json:"keyMappingId"`
	KeyManager     string `json:"keyManager"`
	ConsumerKey    string `json:"consumerKey"`
	ConsumerSecret string `json:"consumerSecret"`
	KeyType        string `json:"keyType"`
	KeyState       string `json:"keyState"`
}

// GenerateKeys creates OAuth keys for an application at a key manager; with
// IS 7 the APIM connector registers the client in IS on our behalf.
func (d DevPortal) GenerateKeys(ctx context.Context, appID string, req KeyRequest) (Keys, error) {
	var out Keys
	_, err := d.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/applications/" + url.PathEscape(appID) + "/generate-keys", Body: req, Want: []int{200}}, &out)
	if err != nil {
		return out, fmt.Errorf("generating %s keys at key manager %q: %w", req.KeyType, req.KeyManager, err)
	}
	redact.Add(out.ConsumerSecret)
	if out.ConsumerKey == "" || out.ConsumerSecret == "" {
		return out, fmt.Errorf("generate-keys answered without consumerKey/consumerSecret")
	}
	return out, nil
}

// GenerateToken asks the DevPortal for an application token.
func (d DevPortal) GenerateToken(ctx context.Context, appID, keyMappingID, consumerSecret string, scopes []string) (string, error) {
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	body := map[string]any{"consumerSecret": consumerSecret, "validityPeriod": 3600, "scopes": scopes}
	_, err := d.C.Do(ctx, rest.Request{Method: http.MethodPost,
		Path: "/applications/" + url.PathEscape(appID) + "/oauth-keys/" + url.PathEscape(keyMappingID) + "/generate-token", Body: body, Want: []int{200}}, &out)
	if err != nil {
		return "", fmt.Errorf("generating an application token: %w", err)
	}
	redact.Add(out.AccessToken)
	return out.AccessToken, nil
}

// ListAPIs lists published APIs anonymously; used as the DevPortal REST probe.
func (d DevPortal) ListAPIs(ctx context.Context) (int, error) {
	var out struct {
		Count int `json:"count"`
	}
	_, err := d.C.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/apis", Want: []int{200}}, &out)
	return out.Count, err
}
