package sim

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// isNode is WSO2 Identity Server 7 as a key manager.
type isNode struct {
	p      *Platform
	km     *issuer
	userID string
}

func newISNode(p *Platform, key, wrong *rsa.PrivateKey) *isNode {
	is := &isNode{p: p, userID: newUUID()}
	is.km = newIssuer(p, p.eps.IdentityServer, key)
	is.km.regPath = "/api/identity/oauth2/dcr/v1.1/register"
	is.km.userinfo = "/oauth2/userinfo"
	if p.fault(FaultTokenWrongIssuer) {
		is.km.signIss = "https://localhost:9443/oauth2/token"
	}
	if p.fault(FaultJWKSWrongKey) {
		is.km.jwksKey = &wrong.PublicKey
	}
	is.km.onRevoke = is.notifyRevocation
	return is
}

func (is *isNode) register(mux *http.ServeMux) {
	is.km.register(mux, "")
	mux.HandleFunc("POST /api/identity/oauth2/dcr/v1.1/register", is.dcr)
	mux.HandleFunc("GET /scim2/Me", is.me)
	mux.HandleFunc("GET /console", spa("Console"))
	mux.HandleFunc("GET /console/", spa("Console"))
	mux.HandleFunc("GET /myaccount/", spa("My Account"))
	mux.HandleFunc("GET /api/health-check/v1.0/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"health": []any{map[string]any{"key": "health", "value": "OK"}}})
	})
}

func spa(title string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>WSO2 Identity Server `+title+`</title></head><body><div id="root"></div></body></html>`)
	}
}

func (is *isNode) dcr(w http.ResponseWriter, r *http.Request) {
	if _, ok := is.p.basicAdmin(r); !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="WSO2 Identity Server"`)
		writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "Unauthorized"})
		return
	}
	var in struct {
		ClientName   string   `json:"client_name"`
		GrantTypes   []string `json:"grant_types"`
		RedirectURIs []string `json:"redirect_uris"`
		TokenType    string   `json:"token_type_extension"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ClientName == "" {
		writeJSON(w, 400, map[string]any{"error": "invalid_client_metadata", "error_description": "client_name is required"})
		return
	}
	if is.km.clientByName(in.ClientName) != nil {
		writeJSON(w, 400, map[string]any{"error": "invalid_client_metadata", "error_description": "Application with the name " + in.ClientName + " already exist in the system"})
		return
	}
	if in.GrantTypes == nil {
		in.GrantTypes = []string{}
	}
	if in.RedirectURIs == nil {
		in.RedirectURIs = []string{}
	}
	cb := ""
	if len(in.RedirectURIs) > 0 {
		cb = in.RedirectURIs[0]
	}
	c := is.km.addClient(&oauthClient{Name: in.ClientName, Owner: is.p.opts.AdminUser, Grants: in.GrantTypes, Callback: cb, TokenType: in.TokenType})
	writeJSON(w, 201, map[string]any{"client_id": c.ID, "client_secret": c.Secret, "client_secret_expires_at": 0,
		"client_name": c.Name, "redirect_uris": in.RedirectURIs, "grant_types": in.GrantTypes, "token_type_extension": in.TokenType})
}

func (is *isNode) me(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	c, err := is.km.verify(tok)
	if !ok || err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="WSO2 Identity Server"`)
		writeJSON(w, 401, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "detail": "Authentication required", "status": "401"})
		return
	}
	if c.Sub != is.p.opts.AdminUser {
		writeJSON(w, 404, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:Error"}, "detail": "No user associated with the token", "status": "404"})
		return
	}
	w.Header().Set("Content-Type", "application/scim+json")
	json.NewEncoder(w).Encode(map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"id":       is.userID,
		"userName": c.Sub,
		"emails":   []string{c.Sub + "@wso2.com"},
		"meta":     map[string]any{"resourceType": "User", "location": is.p.eps.IdentityServer + "/scim2/Users/" + is.userID},
	})
}

// notifyRevocation posts the token_revocation event to APIM, as the
// ApimOauthEventInterceptor does: asynchronously, fire and forget.
func (is *isNode) notifyRevocation(c claims, user string) {
	if is.p.fault(FaultISNoNotification) {
		return
	}
	ev := map[string]any{"eventId": newUUID(), "timeStamp": time.Now().UnixMilli(), "type": "token_revocation",
		"tenantId": -1234, "tenantDomain": "carbon.super", "accessToken": c.Jti, "expiryTime": c.Exp * 1000,
		"user": user, "consumerKey": c.ClientID, "tokenType": "JWT", "properties": map[string]any{}}
	body, _ := json.Marshal(ev)
	target := strings.TrimSuffix(is.p.eps.Management, "/") + intBase + "/notify"
	is.p.goBG(func() {
		req, err := http.NewRequestWithContext(is.p.ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", basicHeader(is.p.opts.AdminUser, is.p.opts.AdminPassword))
		req.Header.Set("X-WSO2-KEY-MANAGER", "WSO2-IS")
		resp, err := is.p.out.Do(req)
		if err != nil {
			is.p.logf("IS notify to %s failed: %v", target, err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
}
