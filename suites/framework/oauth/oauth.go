// Package oauth is the suite's OAuth2/OIDC client for the APIM key manager
// (resident or dedicated) and WSO2 Identity Server 7: dynamic client
// registration, tokens (through golang.org/x/oauth2), revocation, introspection,
// OIDC discovery, JWKS with a cache, and JWT verification with go-jose.
package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/apim-conformance/apim-conformance/reports/redact"
	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// Paths shared by the APIM key manager and IS 7.
const (
	TokenPath      = "/oauth2/token"
	RevokePath     = "/oauth2/revoke"
	IntrospectPath = "/oauth2/introspect"
	DiscoveryPath  = "/oauth2/token/.well-known/openid-configuration"
	APIMDCRPath    = "/client-registration/v0.17/register"
	ISDCRPath      = "/api/identity/oauth2/dcr/v1.1/register"
	SCIMMePath     = "/scim2/Me"
)

// Client is an OAuth2 client registered at a key manager.
type Client struct {
	ID     string
	Secret string
}

// Server is one key manager (APIM node or IS) reached over HTTP.
type Server struct {
	Base string // https://host:port
	HTTP *http.Client
}

func (s Server) rest(auth rest.Auth) *rest.Client {
	return &rest.Client{HTTP: s.HTTP, Base: strings.TrimRight(s.Base, "/"), Auth: auth}
}

// APIMRegistration is the body of APIM's DCR v0.17.
type APIMRegistration struct {
	CallbackURL string `json:"callbackUrl,omitempty"`
	ClientName  string `json:"clientName"`
	Owner       string `json:"owner"`
	GrantType   string `json:"grantType"` // space separated
	// SaasApp is a string in WSO2's contract (dcr-v0.17.yaml), "true"/"false".
	SaasApp   string `json:"saasApp"`
	TokenType string `json:"tokenType,omitempty"`
}

// RegisterAPIM registers (or fetches, DCR is an upsert by name) a client at
// APIM with admin Basic auth.
func (s Server) RegisterAPIM(ctx context.Context, admin rest.Auth, reg APIMRegistration) (Client, error) {
	var out struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if _, err := s.rest(admin).Do(ctx, rest.Request{Method: http.MethodPost, Path: APIMDCRPath, Body: reg}, &out); err != nil {
		return Client{}, fmt.Errorf("APIM dynamic client registration: %w", err)
	}
	if out.ClientID == "" || out.ClientSecret == "" {
		return Client{}, fmt.Errorf("APIM dynamic client registration answered without clientId/clientSecret")
	}
	redact.Add(out.ClientSecret)
	return Client{ID: out.ClientID, Secret: out.ClientSecret}, nil
}

// ISRegistration is the body of IS 7's DCR v1.1.
type ISRegistration struct {
	ClientName         string   `json:"client_name"`
	GrantTypes         []string `json:"grant_types"`
	RedirectURIs       []string `json:"redirect_uris,omitempty"`
	TokenTypeExtension string   `json:"token_type_extension,omitempty"`
}

// RegisterIS registers a client at IS 7 with admin Basic auth.
func (s Server) RegisterIS(ctx context.Context, admin rest.Auth, reg ISRegistration) (Client, error) {
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if _, err := s.rest(admin).Do(ctx, rest.Request{Method: http.MethodPost, Path: ISDCRPath, Body: reg, Want: []int{200, 201}}, &out); err != nil {
		return Client{}, fmt.Errorf("IS dynamic client registration: %w", err)
	}
	if out.ClientID == "" || out.ClientSecret == "" {
		return Client{}, fmt.Errorf("IS dynamic client registration answered without client_id/client_secret")
	}
	redact.Add(out.ClientSecret)
	return Client{ID: out.ClientID, Secret: out.ClientSecret}, nil
}

// Token is an issued token.
type Token struct {
	AccessToken  string
	RefreshToken string
	Scope        string
	Expiry       time.Time
}

func (s Server) oauthCtx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.HTTP)
}

func toToken(t *oauth2.Token) Token {
	redact.Add(t.AccessToken, t.RefreshToken)
	scope, _ := t.Extra("scope").(string)
	return Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, Scope: scope, Expiry: t.Expiry}
}

func tokenErr(grant string, err error) error {
	return fmt.Errorf("%s grant: %s", grant, redact.String(err.Error()))
}

// ClientCredentials obtains a token with the client_credentials grant.
func (s Server) ClientCredentials(ctx context.Context, c Client, scopes ...string) (Token, error) {
	cfg := clientcredentials.Config{ClientID: c.ID, ClientSecret: c.Secret, TokenURL: s.Base + TokenPath, Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
	t, err := cfg.Token(s.oauthCtx(ctx))
	if err != nil {
		return Token{}, tokenErr("client_credentials", err)
	}
	return toToken(t), nil
}

// Password obtains a token with the resource-owner password grant.
func (s Server) Password(ctx context.Context, c Client, user, password string, scopes ...string) (Token, error) {
	cfg := oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: oauth2.Endpoint{TokenURL: s.Base + TokenPath, AuthStyle: oauth2.AuthStyleInHeader}, Scopes: scopes}
	t, err := cfg.PasswordCredentialsToken(s.oauthCtx(ctx), user, password)
	if err != nil {
		return Token{}, tokenErr("password", err)
	}
	return toToken(t), nil
}

// Refresh exchanges a refresh token.
func (s Server) Refresh(ctx context.Context, c Client, refreshToken string) (Token, error) {
	cfg := oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, Endpoint: oauth2.Endpoint{TokenURL: s.Base + TokenPath, AuthStyle: oauth2.AuthStyleInHeader}}
	t, err := cfg.TokenSource(s.oauthCtx(ctx), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		return Token{}, tokenErr("refresh_token", err)
	}
	return toToken(t), nil
}

// Revoke revokes a token (RFC 7009). Servers answer 200 even for unknown
// tokens, so success says only that the request was accepted.
func (s Server) Revoke(ctx context.Context, c Client, token, hint string) error {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	_, err := s.rest(rest.Basic(c.ID, c.Secret)).Do(ctx, rest.Request{Method: http.MethodPost, Path: RevokePath, Body: form, Want: []int{200}}, nil)
	if err != nil {
		return fmt.Errorf("revoking a token: %w", err)
	}
	return nil
}

// Introspection is the RFC 7662 answer.
type Introspection struct {
	Active   bool   `json:"active"`
	ClientID string `json:"client_id"`
	Username string `json:"username"`
	Scope    string `json:"scope"`
	Exp      int64  `json:"exp"`
}

// Introspect asks whether a token is active, with admin Basic auth.
func (s Server) Introspect(ctx context.Context, admin rest.Auth, token string) (Introspection, error) {
	var out Introspection
	_, err := s.rest(admin).Do(ctx, rest.Request{Method: http.MethodPost, Path: IntrospectPath, Body: url.Values{"token": {token}}}, &out)
	if err != nil {
		return out, fmt.Errorf("introspecting a token: %w", err)
	}
	return out, nil
}

// Discovery is the subset of the OIDC discovery document the checks use.
type Discovery struct {
	Issuer                string `json:"issuer"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	RegistrationEndpoint  string `json:"registration_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
}

// Discover reads the OIDC discovery document.
func (s Server) Discover(ctx context.Context) (Discovery, error) {
	var d Discovery
	if _, err := s.rest(nil).Do(ctx, rest.Request{Method: http.MethodGet, Path: DiscoveryPath, Want: []int{200}}, &d); err != nil {
		return d, fmt.Errorf("OIDC discovery: %w", err)
	}
	if d.Issuer == "" || d.JWKSURI == "" {
		return d, fmt.Errorf("OIDC discovery at %s%s has no issuer or jwks_uri", s.Base, DiscoveryPath)
	}
	return d, nil
}

// SCIMMe reads the signed-in user at IS 7's /scim2/Me.
func (s Server) SCIMMe(ctx context.Context, token string) (userName string, err error) {
	var out struct {
		UserName string `json:"userName"`
	}
	_, err = s.rest(rest.Bearer(token)).Do(ctx, rest.Request{Method: http.MethodGet, Path: SCIMMePath, Header: http.Header{"Accept": {"application/scim+json, application/json"}}, Want: []int{200}}, &out)
	if err != nil {
		return "", fmt.Errorf("SCIM /Me: %w", err)
	}
	return out.UserName, nil
}
