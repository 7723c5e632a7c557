package apim

import "testing"

func TestAckedAsWSO2JudgesIt(t *testing.T) {
	for d, want := range map[Deployment]bool{
		{LiveGatewayCount: 1, DeployedGatewayCount: 1}:                        true,
		{LiveGatewayCount: 2, DeployedGatewayCount: 1, FailedGatewayCount: 1}: true,
		{LiveGatewayCount: 0, DeployedGatewayCount: 0}:                        false,
		{LiveGatewayCount: 1, DeployedGatewayCount: 0}:                        false,
		{LiveGatewayCount: 1, DeployedGatewayCount: 1, FailedGatewayCount: 1}: false,
	} {
		if d.Acked() != want {
			t.Errorf("%+v: Acked %v, want %v", d, d.Acked(), want)
		}
	}
}

// The IS 7 connector rejects a registration without these (901401); the
// user-info endpoint must be SCIM /Me, not the discovered oauth2/userinfo.
func TestIS7RegistrationHasTheMandatoryFields(t *testing.T) {
	km := IS7KeyManager("is7", "https://is-identity-server:9443", "https://is-identity-server:9443/oauth2/token", "admin", "pw")
	if km.Type != "WSO2-IS-7" || km.UserInfoEndpoint != "https://is-identity-server:9443/scim2/Me" || km.Certificates.Type != "JWKS" {
		t.Fatalf("%+v", km)
	}
	for _, p := range []string{"api_resource_management_endpoint", "is7_roles_endpoint", "Username", "Password"} {
		if km.AdditionalProperties[p] == nil {
			t.Errorf("missing additional property %s", p)
		}
	}
}

func TestInvocationURL(t *testing.T) {
	g := Gateway{Base: "https://gw:8243/"}
	if got := g.URL("/pizzashack", "1.0.0", "/menu"); got != "https://gw:8243/pizzashack/1.0.0/menu" {
		t.Fatalf("%s", got)
	}
}
