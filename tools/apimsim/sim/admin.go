package sim

import (
	"net/http"
	"strings"
	"time"
)

// ---- Admin: key managers, gateways ----

func (n *apimNode) residentKM() map[string]any {
	b := n.p.eps.KM()
	return map[string]any{"id": n.residentID, "name": residentKMName, "displayName": residentKMName, "type": "default",
		"description": "This is Resident Key Manager", "enabled": true, "isGlobal": false, "isUsed": true, "tokenType": "DIRECT",
		"issuer": n.km.iss, "tokenEndpoint": b + "/oauth2/token", "revokeEndpoint": b + "/oauth2/revoke",
		"introspectionEndpoint": b + "/oauth2/introspect", "clientRegistrationEndpoint": b + dcrBase + "/register",
		"userInfoEndpoint": b + "/oauth2/userinfo", "authorizeEndpoint": b + "/oauth2/authorize",
		"certificates":     map[string]any{"type": "JWKS", "value": b + "/oauth2/jwks"},
		"consumerKeyClaim": "azp", "scopesClaim": "scope", "enableSelfValidationJWT": true, "enableTokenGeneration": true,
		"enableOAuthAppCreation": true, "enableMapOAuthConsumerApps": false, "enableTokenEncryption": false, "enableTokenHashing": false,
		"availableGrantTypes": []any{"client_credentials", "password", "refresh_token"}, "additionalProperties": map[string]any{}}
}

func kmInfo(b map[string]any) map[string]any {
	out := map[string]any{}
	for _, f := range []string{"id", "name", "type", "description", "enabled", "tokenType"} {
		if v, ok := b[f]; ok {
			out[f] = v
		}
	}
	out["isGlobal"], out["isUsed"] = false, false
	if out["name"] == residentKMName {
		out["isUsed"] = true
	}
	return out
}

func (n *apimNode) listKMs(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := []any{kmInfo(n.residentKM())}
	for _, k := range n.kms {
		list = append(list, kmInfo(k.Body))
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "list": list})
}

// checkKM applies WSO2's registration rules: IS 7 connector mandatory
// properties (901401), unique name and issuer.
func (n *apimNode) checkKM(w http.ResponseWriter, b map[string]any, self string) bool {
	if n.p.fault(FaultKMRegistrationRejected) {
		writeWSO2Error(w, 400, 901401, "Key Manager configuration is invalid", "Key Manager registration rejected")
		return false
	}
	name, _ := b["name"].(string)
	typ, _ := b["type"].(string)
	if typ == "WSO2-IS-7" {
		props, _ := b["additionalProperties"].(map[string]any)
		var missing []string
		for _, p := range []string{"api_resource_management_endpoint", "is7_roles_endpoint"} {
			if s, _ := props[p].(string); s == "" {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			writeWSO2Error(w, 400, 901401, "Key Manager configuration is invalid", "Required connector configuration missing: "+strings.Join(missing, ", "))
			return false
		}
	}
	iss, _ := b["issuer"].(string)
	if name == residentKMName && self != n.residentID {
		writeWSO2Error(w, 409, 901400, "Key Manager Already Exists", "Key Manager "+name+" already exists")
		return false
	}
	for _, k := range n.kms {
		if k.ID == self {
			continue
		}
		if k.str("name") == name {
			writeWSO2Error(w, 409, 901400, "Key Manager Already Exists", "Key Manager "+name+" already exists")
			return false
		}
		if iss != "" && k.str("issuer") == iss {
			writeWSO2Error(w, 409, 901400, "Key Manager Already Exists", "A Key Manager with issuer "+iss+" already exists ("+k.str("name")+")")
			return false
		}
	}
	return true
}

func kmDefaults(b map[string]any) {
	setDefault(b, "enabled", true)
	setDefault(b, "tokenType", "DIRECT")
	setDefault(b, "consumerKeyClaim", "azp")
	setDefault(b, "scopesClaim", "scope")
	setDefault(b, "enableSelfValidationJWT", true)
	setDefault(b, "enableTokenGeneration", true)
	setDefault(b, "enableOAuthAppCreation", true)
	setDefault(b, "enableMapOAuthConsumerApps", false)
	setDefault(b, "enableTokenEncryption", false)
	setDefault(b, "enableTokenHashing", false)
	setDefault(b, "global", false)
	setDefault(b, "displayName", b["name"])
}

func (n *apimNode) createKM(w http.ResponseWriter, r *http.Request) {
	var b map[string]any
	if err := decodeBody(r, &b); err != nil {
		writeWSO2Error(w, 400, 400, "Bad Request", "invalid JSON body")
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.checkKM(w, b, "") {
		return
	}
	k := &kmRec{ID: newUUID(), Body: b}
	b["id"] = k.ID
	kmDefaults(b)
	n.kms = append(n.kms, k)
	w.Header().Set("Location", n.p.eps.Management+adminBase+"/key-managers/"+k.ID)
	writeJSON(w, 201, b)
}

func (n *apimNode) findKM(w http.ResponseWriter, id string) (*kmRec, int) {
	for i, k := range n.kms {
		if k.ID == id {
			return k, i
		}
	}
	writeWSO2Error(w, 404, 901411, "Key Manager not found", "Key Manager "+id+" not found")
	return nil, -1
}

func (n *apimNode) getKM(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r.PathValue("keyManagerId") == n.residentID {
		writeJSON(w, 200, n.residentKM())
		return
	}
	if k, _ := n.findKM(w, r.PathValue("keyManagerId")); k != nil {
		writeJSON(w, 200, k.Body)
	}
}

func (n *apimNode) updateKM(w http.ResponseWriter, r *http.Request) {
	var b map[string]any
	if err := decodeBody(r, &b); err != nil {
		writeWSO2Error(w, 400, 400, "Bad Request", "invalid JSON body")
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	k, _ := n.findKM(w, r.PathValue("keyManagerId"))
	if k == nil || !n.checkKM(w, b, k.ID) {
		return
	}
	b["id"] = k.ID
	kmDefaults(b)
	k.Body = b
	// A changed certificate source must be refetched.
	n.jwksCache = map[string]map[string]any{}
	writeJSON(w, 200, b)
}

func (n *apimNode) deleteKM(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if k, i := n.findKM(w, r.PathValue("keyManagerId")); k != nil {
		n.kms = append(n.kms[:i], n.kms[i+1:]...)
		w.WriteHeader(200)
	}
}

func (n *apimNode) gateways(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("environmentId") != "Default" {
		writeWSO2Error(w, 404, 900914, "Not Found", "Environment "+r.PathValue("environmentId")+" not found")
		return
	}
	// The all-in-one node's own gateway heartbeats every minute.
	last := rfc3339(time.Now().Truncate(time.Minute))
	writeJSON(w, 200, map[string]any{"count": 1, "list": []any{map[string]any{"gatewayId": "apim-wso2am-all-in-one-am-0", "lastActive": last, "status": "ACTIVE"}}})
}
