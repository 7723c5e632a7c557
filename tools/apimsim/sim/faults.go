package sim

import (
	"fmt"
	"sort"
	"strings"
)

// FaultInfo names a fault and says what it breaks.
type FaultInfo struct{ Name, Description string }

// Fault names. Each one breaks exactly one behaviour, so the checks depending
// on that behaviour fail and the others keep passing.
const (
	FaultGatewayIgnoresRevocation = "gateway-ignores-revocation"
	FaultISNoNotification         = "is-no-notification"
	FaultJWKSWrongKey             = "jwks-wrong-key"
	FaultTokenWrongIssuer         = "token-wrong-issuer"
	FaultPortalDown               = "portal-down"
	FaultGatewayNoSubscription    = "gateway-no-subscription-check"
	FaultAPINeverDeployed         = "api-never-deployed"
	FaultKMRegistrationRejected   = "km-registration-rejected"
	FaultSlowStart                = "slow-start"
	FaultGatewayUnhealthy         = "gateway-unhealthy"
	FaultGatewaySkipsSignature    = "gateway-skips-signature-check"
	FaultGatewayNoAuth            = "gateway-no-auth"
	FaultResidentJWKSWrongKey     = "resident-jwks-wrong-key"
	FaultResidentTokenWrongIssuer = "resident-token-wrong-issuer"
	FaultGatewayWrongKMURL        = "gateway-wrong-km-url"
	FaultTMNotThrottling          = "tm-not-throttling"
	FaultReplicaDown              = "replica-down"
	FaultRevocationOneReplica     = "revocation-one-replica"
)

var faultTable = map[string]string{
	FaultGatewayIgnoresRevocation: "APIM records notified and resident-KM revocations (revokedjwt lists them) but the gateway keeps accepting revoked tokens",
	FaultISNoNotification:         "IS revokes tokens but never sends the token_revocation notify call to APIM",
	FaultJWKSWrongKey:             "IS /oauth2/jwks serves a different public key under the signing kid, so IS tokens verify nowhere",
	FaultTokenWrongIssuer:         "IS signs tokens with iss https://localhost:9443/oauth2/token instead of its discovery issuer",
	FaultPortalDown:               "the web apps (APIM /publisher, /devportal, /admin, /carbon and the IS /console) answer 503; REST APIs stay up",
	FaultGatewayNoSubscription:    "the gateway accepts tokens of applications that have no subscription to the API",
	FaultAPINeverDeployed:         "deploy-revision is accepted but never reaches the gateway (no ack, liveGatewayCount 0, api-artifact 404, gateway 404)",
	FaultKMRegistrationRejected:   "Admin POST /key-managers always answers 400 with code 901401",
	FaultSlowStart:                "every listener answers 503 with Retry-After for the first SlowStart (default 1.5s) after Start",
	FaultGatewayUnhealthy:         "the gateway's server-startup-healthcheck answers 500 (APIs not deployed at startup); traffic still flows",
	FaultGatewaySkipsSignature:    "the gateway accepts JWTs without verifying their signature (a forged claim passes)",
	FaultGatewayNoAuth:            "the gateway lets calls without any token through to the backend",
	FaultResidentJWKSWrongKey:     "APIM's /oauth2/jwks serves a different public key under the resident key manager's kid (APIM still trusts its own key internally)",
	FaultResidentTokenWrongIssuer: "the resident key manager signs tokens with iss https://localhost:9443/oauth2/token instead of its discovery issuer (APIM still accepts them internally)",
	FaultGatewayWrongKMURL:        "the gateway's deployment.toml ([apim.key_manager] service_url, [oauth.endpoints] oauth2_jwks_url) names wso2am-cp-service, the charts' placeholder, a Service that does not exist; resident/dedicated key manager tokens no longer validate at that gateway",
	FaultTMNotThrottling:          "the traffic manager never throttles: an application past its tier's quota (10PerMin) keeps getting 200",
	FaultReplicaDown:              "the gateway's last replica has a dead pass-through transport but stays in the Service's rotation: API calls routed to it fail with 503 (patterns with one gateway replica: no effect)",
	FaultRevocationOneReplica:     "token-revocation events reach only the first gateway replica; the others keep accepting revoked tokens (patterns with one gateway replica: no effect)",
}

// Faults lists the known faults sorted by name.
func Faults() []FaultInfo {
	out := make([]FaultInfo, 0, len(faultTable))
	for n, d := range faultTable {
		out = append(out, FaultInfo{Name: n, Description: d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// FaultNames returns the sorted fault names.
func FaultNames() []string {
	var names []string
	for _, f := range Faults() {
		names = append(names, f.Name)
	}
	return names
}

// parseFaults accepts names and comma-separated lists; blanks are ignored.
func parseFaults(in []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, item := range in {
		for _, n := range strings.Split(item, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if _, ok := faultTable[n]; !ok {
				return nil, fmt.Errorf("unknown fault %q; valid faults: %s", n, strings.Join(FaultNames(), ", "))
			}
			set[n] = true
		}
	}
	return set, nil
}
