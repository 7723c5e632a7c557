package conformance

import (
	"strings"
	"time"

	. "github.com/onsi/gomega"

	"github.com/apim-conformance/apim-conformance/suites/framework/oauth"
)

// expectAccessToken checks the claims of an access token issued to clientID:
// issuer as discovery says, a kid to find the key by, azp or client_id naming
// the client, and an expiry in the future. The signature is the JWKS checks'
// job, so a broken JWKS does not hide a correct token.
func expectAccessToken(t *T, token, issuer, clientID string) (oauth.Header, oauth.Claims) {
	h, c, err := oauth.Inspect(token)
	t.Expect(err).NotTo(HaveOccurred(), "the access token is not a JWT")
	t.Expect(h.KeyID).NotTo(BeEmpty(), "JWT header has no kid, so no gateway can pick a key")
	t.Expect(h.Algorithm).To(Equal("RS256"), "signing algorithm")
	t.Expect(c.Issuer).To(Equal(issuer), "iss must equal the issuer in OIDC discovery; the gateway picks the key manager by it")
	t.Expect([]string{c.AZP, c.ClientID}).To(ContainElement(clientID), "neither azp nor client_id names the client")
	t.Expect(c.Expiry).NotTo(BeNil(), "token has no exp")
	t.Expect(c.Expiry.Time()).To(BeTemporally(">", time.Now()), "token already expired")
	t.Expect(c.ID).NotTo(BeEmpty(), "token has no jti; revocation is keyed by it")
	return h, c
}

func tokenChecks() []Check {
	return []Check{
		{
			ID: "token.resident-km", Description: "the resident key manager registers a client (DCR) and issues password and refresh-token grants as JWTs with the discovered issuer",
			Requires: []Capability{ResidentKM}, Labels: []string{"token", "smoke"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				km := env.ResidentKM()
				disc, err := km.Discover(t.Ctx)
				t.Expect(err).NotTo(HaveOccurred())
				c, err := env.APIM().RegisterAPIM(t.Ctx, env.AdminAuth(), oauth.APIMRegistration{
					ClientName: "apimconf_token_" + env.Suffix, Owner: env.Config.Admin.Username,
					GrantType: "password refresh_token client_credentials", SaasApp: "true", TokenType: "JWT"})
				t.Expect(err).NotTo(HaveOccurred())
				start := time.Now()
				tok, err := km.Password(t.Ctx, c, env.Config.Admin.Username, env.Config.Admin.Password, "apim:api_view")
				t.Expect(err).NotTo(HaveOccurred())
				t.Report(ReportTokenLatencyPrefix+"resident-km", time.Since(start))
				_, claims := expectAccessToken(t, tok.AccessToken, disc.Issuer, c.ID)
				t.Expect(strings.Fields(claims.Scope)).To(ContainElement("apim:api_view"), "granted scopes")
				t.Expect(tok.RefreshToken).NotTo(BeEmpty(), "password grant returned no refresh token")
				refreshed, err := km.Refresh(t.Ctx, c, tok.RefreshToken)
				t.Expect(err).NotTo(HaveOccurred(), "refresh_token grant")
				expectAccessToken(t, refreshed.AccessToken, disc.Issuer, c.ID)
			},
		},
		{
			ID: "token.is7", Description: "WSO2 Identity Server 7 registers a client (DCR v1.1), issues client-credentials and password JWTs with its discovered issuer, and serves /scim2/Me",
			Requires: []Capability{IS7KM}, Labels: []string{"token", "smoke"}, Owner: "apim-conformance",
			Body: func(t *T) {
				env := t.Env
				is := env.IS()
				disc, err := is.Discover(t.Ctx)
				t.Expect(err).NotTo(HaveOccurred())
				c, err := is.RegisterIS(t.Ctx, env.ISAdminAuth(), oauth.ISRegistration{
					ClientName: "apimconf_is_" + env.Suffix, GrantTypes: []string{"client_credentials", "password", "refresh_token"}, TokenTypeExtension: "JWT"})
				t.Expect(err).NotTo(HaveOccurred())
				start := time.Now()
				tok, err := is.ClientCredentials(t.Ctx, c)
				t.Expect(err).NotTo(HaveOccurred())
				t.Report(ReportTokenLatencyPrefix+"is7", time.Since(start))
				expectAccessToken(t, tok.AccessToken, disc.Issuer, c.ID)
				user, err := is.Password(t.Ctx, c, env.Config.ISAdmin.Username, env.Config.ISAdmin.Password, "openid", "internal_login")
				t.Expect(err).NotTo(HaveOccurred())
				expectAccessToken(t, user.AccessToken, disc.Issuer, c.ID)
				name, err := is.SCIMMe(t.Ctx, user.AccessToken)
				t.Expect(err).NotTo(HaveOccurred())
				t.Expect(name).To(Equal(env.Config.ISAdmin.Username), "/scim2/Me names another user")
			},
		},
		jwksCheck("resident-km", "the resident key manager", ResidentKM),
		jwksCheck("is7", "WSO2 Identity Server 7", IS7KM),
	}
}

// jwksCheck follows discovery → jwks_uri → the key for the token's kid and
// alg → signature, iss and exp, as a gateway does.
func jwksCheck(id, who string, cap Capability) Check {
	return Check{
		ID: "jwks." + id, Description: "a token of " + who + " verifies against the key its JWKS (found through OIDC discovery) publishes for the token's kid",
		Requires: []Capability{cap}, Labels: []string{"jwks", "smoke"}, Owner: "apim-conformance",
		Body: func(t *T) {
			env := t.Env
			var server oauth.Server
			var token string
			if cap == IS7KM {
				server = env.IS()
				c, err := server.RegisterIS(t.Ctx, env.ISAdminAuth(), oauth.ISRegistration{
					ClientName: "apimconf_jwks_" + env.Suffix, GrantTypes: []string{"client_credentials"}, TokenTypeExtension: "JWT"})
				t.Expect(err).NotTo(HaveOccurred())
				tok, err := server.ClientCredentials(t.Ctx, c)
				t.Expect(err).NotTo(HaveOccurred())
				token = tok.AccessToken
			} else {
				server = env.ResidentKM()
				tok, err := env.PortalToken(t.Ctx)
				t.Require(err, "portal token from the resident key manager")
				token = tok
			}
			disc, err := server.Discover(t.Ctx)
			t.Expect(err).NotTo(HaveOccurred())
			t.Expect(disc.JWKSURI).To(HavePrefix("https://"), "jwks_uri")
			hdr, _, err := env.JWKS.Verify(t.Ctx, disc.JWKSURI, token, oauth.Expect{Issuer: disc.Issuer})
			t.Expect(err).NotTo(HaveOccurred(), "verifying a %s token (kid %q) with %s", who, hdr.KeyID, disc.JWKSURI)
		},
	}
}
