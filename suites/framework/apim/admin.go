package apim

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// Admin is the Admin v4 client.
type Admin struct{ C *rest.Client }

// KeyManagerCertificates tells the gateway where the KM's signing keys are.
type KeyManagerCertificates struct {
	Type  string `json:"type"` // JWKS or PEM
	Value string `json:"value"`
}

// KeyManager is the subset of the Admin KeyManager object the suite sends.
type KeyManager struct {
	ID                         string                  `json:"id,omitempty"`
	Name                       string                  `json:"name"`
	DisplayName                string                  `json:"displayName,omitempty"`
	Type                       string                  `json:"type"`
	Description                string                  `json:"description,omitempty"`
	Enabled                    bool                    `json:"enabled"`
	WellKnownEndpoint          string                  `json:"wellKnownEndpoint,omitempty"`
	Issuer                     string                  `json:"issuer,omitempty"`
	ClientRegistrationEndpoint string                  `json:"clientRegistrationEndpoint,omitempty"`
	IntrospectionEndpoint      string                  `json:"introspectionEndpoint,omitempty"`
	TokenEndpoint              string                  `json:"tokenEndpoint,omitempty"`
	DisplayTokenEndpoint       string                  `json:"displayTokenEndpoint,omitempty"`
	RevokeEndpoint             string                  `json:"revokeEndpoint,omitempty"`
	DisplayRevokeEndpoint      string                  `json:"displayRevokeEndpoint,omitempty"`
	UserInfoEndpoint           string                  `json:"userInfoEndpoint,omitempty"`
	AuthorizeEndpoint          string                  `json:"authorizeEndpoint,omitempty"`
	ScopeManagementEndpoint    string                  `json:"scopeManagementEndpoint,omitempty"`
	Certificates               *KeyManagerCertificates `json:"certificates,omitempty"`
	AvailableGrantTypes        []string                `json:"availableGrantTypes,omitempty"`
	EnableTokenGeneration      bool                    `json:"enableTokenGeneration"`
	EnableOAuthAppCreation     bool                    `json:"enableOAuthAppCreation"`
	EnableMapOAuthConsumerApps bool                    `json:"enableMapOAuthConsumerApps"`
	EnableSelfValidationJWT    bool                    `json:"enableSelfValidationJWT"`
	ConsumerKeyClaim           string                  `json:"consumerKeyClaim,omitempty"`
	ScopesClaim                string                  `json:"scopesClaim,omitempty"`
	TokenType                  string                  `json:"tokenType,omitempty"`
	AdditionalProperties       map[string]any          `json:"additionalProperties,omitempty"`
}

// KeyManagerInfo is one row of the key manager list.
type KeyManagerInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Enabled bool   `json:"enabled"`
}

// ListKeyManagers lists the key managers.
func (a Admin) ListKeyManagers(ctx context.Context) ([]KeyManagerInfo, error) {
	var out struct {
		List []KeyManagerInfo `json:"list"`
	}
	_, err := a.C.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/key-managers", Want: []int{200}}, &out)
	if err != nil {
		return nil, fmt.Errorf("listing key managers: %w", err)
	}
	return out.List, nil
}

// CreateKeyManager registers a key manager (201).
func (a Admin) CreateKeyManager(ctx context.Context, km KeyManager) (KeyManager, error) {
	var out KeyManager
	_, err := a.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/key-managers", Body: km, Want: []int{201}}, &out)
	if err != nil {
		return out, fmt.Errorf("registering key manager %s (%s): %w", km.Name, km.Type, err)
	}
	return out, nil
}

// DeleteKeyManager removes a key manager.
func (a Admin) DeleteKeyManager(ctx context.Context, id string) error {
	_, err := a.C.Do(ctx, rest.Request{Method: http.MethodDelete, Path: "/key-managers/" + url.PathEscape(id), Want: []int{200, 204}}, nil)
	return err
}

// GatewayInstance is a gateway that reported to the control plane.
type GatewayInstance struct {
	GatewayID string `json:"gatewayId"`
	Status    string `json:"status"`
}

// Gateways lists the gateway instances of an environment.
func (a Admin) Gateways(ctx context.Context, env string) ([]GatewayInstance, error) {
	var out struct {
		List []GatewayInstance `json:"list"`
	}
	_, err := a.C.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/environments/" + url.PathEscape(env) + "/gateways", Want: []int{200}}, &out)
	return out.List, err
}

// IS7KeyManager is the registration of WSO2 IS 7 as a key manager, with the
// endpoint set WSO2's docs prescribe (facts: wso2-rest-flow.md §7.1). is is
// the IS base URL as the APIM node reaches it (the in-cluster Service).
func IS7KeyManager(name, is, issuer, connectorUser, connectorPassword string) KeyManager {
	return KeyManager{
		Name: name, DisplayName: "WSO2 Identity Server 7", Type: "WSO2-IS-7", Enabled: true,
		Description:                "registered by apim-conformance",
		WellKnownEndpoint:          is + "/oauth2/token/.well-known/openid-configuration",
		Issuer:                     issuer,
		ClientRegistrationEndpoint: is + "/api/identity/oauth2/dcr/v1.1/register",
		IntrospectionEndpoint:      is + "/oauth2/introspect",
		TokenEndpoint:              is + "/oauth2/token",
		DisplayTokenEndpoint:       is + "/oauth2/token",
		RevokeEndpoint:             is + "/oauth2/revoke",
		DisplayRevokeEndpoint:      is + "/oauth2/revoke",
		UserInfoEndpoint:           is + "/scim2/Me",
		AuthorizeEndpoint:          is + "/oauth2/authorize",
		ScopeManagementEndpoint:    is + "/api/identity/oauth2/v1.0/scopes",
		Certificates:               &KeyManagerCertificates{Type: "JWKS", Value: is + "/oauth2/jwks"},
		AvailableGrantTypes:        []string{"client_credentials", "password", "refresh_token"},
		EnableTokenGeneration:      true,
		EnableOAuthAppCreation:     true,
		EnableMapOAuthConsumerApps: true,
		EnableSelfValidationJWT:    true,
		ConsumerKeyClaim:           "azp",
		ScopesClaim:                "scope",
		TokenType:                  "DIRECT",
		AdditionalProperties: map[string]any{
			"Authentication":                   "BasicAuth",
			"Username":                         connectorUser,
			"Password":                         connectorPassword,
			"api_resource_management_endpoint": is + "/api/server/v1/api-resources",
			"is7_roles_endpoint":               is + "/scim2/v2/Roles",
			"self_validate_jwt":                true,
		},
	}
}
