package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ---- DevPortal ----

func (n *apimNode) devAPIInfo(a *apiRec) map[string]any {
	tp := a.Policies
	if tp == nil {
		tp = []string{}
	}
	return map[string]any{"id": a.ID, "name": a.Name, "context": a.Context, "version": a.Version, "provider": a.Provider,
		"type": "HTTP", "lifeCycleStatus": stateNames[a.Status], "throttlingPolicies": tp, "isSubscriptionAvailable": true,
		"createdTime": fmt.Sprint(a.Created.UnixMilli()), "gatewayVendor": "wso2"}
}

func (n *apimNode) published(id string) *apiRec {
	a := n.apis[id]
	if a == nil || (a.Status != "PUBLISHED" && a.Status != "PROTOTYPED" && a.Status != "DEPRECATED") {
		return nil
	}
	return a
}

func (n *apimNode) listDevAPIs(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := []any{}
	for _, a := range n.sortedAPIs() {
		if n.published(a.ID) != nil {
			list = append(list, n.devAPIInfo(a))
		}
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "list": list, "pagination": map[string]any{"offset": 0, "limit": 25, "total": len(list)}})
}

func (n *apimNode) getDevAPI(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.published(r.PathValue("apiId"))
	if a == nil {
		writeWSO2Error(w, 404, 900310, "Not Found", "Requested API with id '"+r.PathValue("apiId")+"' not found")
		return
	}
	tiers := []any{}
	for _, t := range a.Policies {
		tiers = append(tiers, map[string]any{"tierName": t, "tierPlan": "FREE"})
	}
	urls := []any{}
	for _, d := range a.Deployments {
		if d.Display {
			base := n.p.eps.Gateway + a.Context + "/" + a.Version
			urls = append(urls, map[string]any{"environmentName": d.Name, "environmentDisplayName": d.Name, "environmentType": "hybrid",
				"URLs":               map[string]any{"https": base, "http": strings.Replace(strings.Replace(base, "https://", "http://", 1), ":8243", ":8280", 1)},
				"defaultVersionURLs": map[string]any{}})
		}
	}
	body := map[string]any{"id": a.ID, "name": a.Name, "context": a.Context, "version": a.Version, "provider": a.Provider,
		"lifeCycleStatus": stateNames[a.Status], "type": "HTTP", "transport": []any{"http", "https"}, "isDefaultVersion": false,
		"authorizationHeader": "Authorization", "securityScheme": []any{"oauth2"}, "tags": []any{}, "tiers": tiers, "hasThumbnail": false,
		"endpointURLs": urls, "isSubscriptionAvailable": true, "gatewayVendor": "wso2"}
	if ops, ok := a.Body["operations"].([]any); ok {
		body["operations"] = ops
	}
	writeJSON(w, 200, body)
}

func (n *apimNode) appBody(a *appRec) map[string]any {
	subs := 0
	for _, s := range n.subs {
		if s.AppID == a.ID {
			subs++
		}
	}
	keys := []any{}
	for _, k := range a.Keys {
		keys = append(keys, keyBody(k))
	}
	attrs := a.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	return map[string]any{"applicationId": a.ID, "name": a.Name, "throttlingPolicy": a.Tier, "description": a.Desc,
		"tokenType": a.TokenType, "status": "APPROVED", "groups": []any{}, "subscriptionCount": subs, "keys": keys,
		"attributes": attrs, "subscriptionScopes": []any{}, "owner": a.Owner, "hashEnabled": false,
		"createdTime": fmt.Sprint(a.Created.UnixMilli()), "updatedTime": fmt.Sprint(a.Created.UnixMilli())}
}

var appTiers = []string{"Unlimited", "10PerMin", "20PerMin", "50PerMin"}

func (n *apimNode) createApp(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := decodeBody(r, &in); err != nil {
		writeWSO2Error(w, 400, 400, "Bad Request", "invalid JSON body")
		return
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	if !contains(appTiers, str("throttlingPolicy")) {
		writeWSO2Error(w, 400, 900700, "Bad Request", "Invalid throttling tier "+str("throttlingPolicy")+"; one of "+strings.Join(appTiers, ", "))
		return
	}
	a := &appRec{ID: newUUID(), Name: str("name"), Tier: str("throttlingPolicy"), Desc: str("description"), TokenType: str("tokenType"), Owner: infoOf(r).user, Created: time.Now()}
	if a.TokenType == "" {
		a.TokenType = "JWT"
	}
	a.Attributes, _ = in["attributes"].(map[string]any)
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range n.apps {
		if x.Name == a.Name && x.Owner == a.Owner {
			writeWSO2Error(w, 409, 900704, "Conflict", "A duplicate application already exists by the name - "+a.Name)
			return
		}
	}
	n.apps[a.ID] = a
	w.Header().Set("Location", n.p.eps.Management+devBase+"/applications/"+a.ID)
	writeJSON(w, 201, n.appBody(a))
}

func (n *apimNode) app(w http.ResponseWriter, id string) *appRec {
	a := n.apps[id]
	if a == nil {
		writeWSO2Error(w, 404, 900703, "Not Found", "Requested application with id '"+id+"' not found")
	}
	return a
}

func (n *apimNode) listApps(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := []any{}
	for _, a := range n.apps {
		b := n.appBody(a)
		delete(b, "keys")
		delete(b, "subscriptionScopes")
		delete(b, "hashEnabled")
		list = append(list, b)
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "list": list, "pagination": map[string]any{"offset": 0, "limit": 25, "total": len(list)}})
}

func (n *apimNode) getApp(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a := n.app(w, r.PathValue("applicationId")); a != nil {
		writeJSON(w, 200, n.appBody(a))
	}
}

func (n *apimNode) deleteApp(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.app(w, r.PathValue("applicationId"))
	if a == nil {
		return
	}
	for id, s := range n.subs {
		if s.AppID == a.ID {
			delete(n.subs, id)
		}
	}
	delete(n.apps, a.ID)
	w.WriteHeader(200)
}

func (n *apimNode) subBody(s *subRec) map[string]any {
	m := map[string]any{"subscriptionId": s.ID, "applicationId": s.AppID, "apiId": s.APIID, "throttlingPolicy": s.Tier,
		"requestedThrottlingPolicy": s.Tier, "status": s.Status}
	if a := n.apis[s.APIID]; a != nil {
		m["apiInfo"] = n.devAPIInfo(a)
	}
	return m
}

func (n *apimNode) subscribe(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := decodeBody(r, &in); err != nil {
		writeWSO2Error(w, 400, 400, "Bad Request", "invalid JSON body")
		return
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.apps[str("applicationId")] == nil {
		writeWSO2Error(w, 404, 900703, "Not Found", "Requested application with id '"+str("applicationId")+"' not found")
		return
	}
	a := n.published(str("apiId"))
	if a == nil {
		writeWSO2Error(w, 404, 900310, "Not Found", "Requested API with id '"+str("apiId")+"' not found or not published")
		return
	}
	if !contains(a.Policies, str("throttlingPolicy")) {
		writeWSO2Error(w, 400, 900911, "Bad Request", "Tier "+str("throttlingPolicy")+" is not allowed for API "+a.Name+"; the API lists "+strings.Join(a.Policies, ", "))
		return
	}
	for _, s := range n.subs {
		if s.AppID == str("applicationId") && s.APIID == a.ID {
			writeWSO2Error(w, 409, 900909, "Conflict", "Subscription already exists")
			return
		}
	}
	s := &subRec{ID: newUUID(), AppID: str("applicationId"), APIID: a.ID, Tier: str("throttlingPolicy"), Status: "UNBLOCKED"}
	n.subs[s.ID] = s
	writeJSON(w, 201, n.subBody(s))
}

func (n *apimNode) listSubs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n.mu.Lock()
	defer n.mu.Unlock()
	list := []any{}
	for _, s := range n.subs {
		if (q.Get("applicationId") == "" || q.Get("applicationId") == s.AppID) && (q.Get("apiId") == "" || q.Get("apiId") == s.APIID) {
			list = append(list, n.subBody(s))
		}
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "list": list, "pagination": map[string]any{"offset": 0, "limit": 25, "total": len(list)}})
}

func keyBody(k *keyMapping) map[string]any {
	return map[string]any{"keyMappingId": k.ID, "keyManager": k.KeyManager, "consumerKey": k.ConsumerKey, "consumerSecret": k.ConsumerSecret,
		"supportedGrantTypes": k.Grants, "callbackUrl": k.Callback, "keyState": "COMPLETED", "keyType": k.KeyType, "mode": "CREATED",
		"additionalProperties": map[string]any{}}
}

func (n *apimNode) kmByNameOrID(s string) *kmRec {
	for _, k := range n.kms {
		if k.ID == s || k.str("name") == s {
			return k
		}
	}
	return nil
}

func (n *apimNode) generateKeys(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := decodeBody(r, &in); err != nil {
		writeWSO2Error(w, 400, 400, "Bad Request", "invalid JSON body")
		return
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	var grants []string
	if g, ok := in["grantTypesToBeSupported"].([]any); ok {
		for _, x := range g {
			grants = append(grants, fmt.Sprint(x))
		}
	}
	kmName := str("keyManager")
	if kmName == "" || kmName == residentKMName || kmName == n.residentID {
		kmName = residentKMName
	}
	n.mu.Lock()
	a := n.app(w, r.PathValue("applicationId"))
	if a == nil {
		n.mu.Unlock()
		return
	}
	var km *kmRec
	if kmName != residentKMName {
		if km = n.kmByNameOrID(kmName); km == nil {
			n.mu.Unlock()
			writeWSO2Error(w, 404, 901411, "Key Manager not found", "Key Manager "+kmName+" not found")
			return
		}
		if !km.enabled() {
			n.mu.Unlock()
			writeWSO2Error(w, 400, 901403, "Key Manager is disabled", "Key Manager "+kmName+" is not enabled")
			return
		}
		kmName = km.str("name")
	}
	for _, k := range a.Keys {
		if k.KeyManager == kmName && k.KeyType == str("keyType") {
			n.mu.Unlock()
			writeWSO2Error(w, 409, 901409, "Key Mappings already exists", "Key Mappings already exists for application "+a.Name+" and key manager "+kmName)
			return
		}
	}
	appName, owner, tokenType := a.Name, a.Owner, a.TokenType
	n.mu.Unlock()

	k := &keyMapping{ID: newUUID(), KeyManager: kmName, KeyType: str("keyType"), Callback: str("callbackUrl"), Grants: grants}
	if km == nil {
		c := n.km.addClient(&oauthClient{Name: owner + "_" + appName + "_" + k.KeyType, Owner: owner, Grants: grants, Callback: k.Callback, TokenType: tokenType})
		k.ConsumerKey, k.ConsumerSecret = c.ID, c.Secret
	} else {
		id, secret, err := n.dcrIntoIS(km, owner+"_"+appName+"_"+k.KeyType, grants, k.Callback, tokenType)
		if err != nil {
			writeWSO2Error(w, 500, 900967, "General Error", "Error while creating the OAuth client at key manager "+kmName+": "+err.Error())
			return
		}
		k.ConsumerKey, k.ConsumerSecret, k.KMID = id, secret, km.ID
	}
	n.mu.Lock()
	a.Keys = append(a.Keys, k)
	n.mu.Unlock()
	writeJSON(w, 200, keyBody(k))
}

// dcrIntoIS registers the application's OAuth client in IS over HTTP, the way
// the WSO2-IS-7 connector does: POST to the registered
// clientRegistrationEndpoint with Basic Username/Password from
// additionalProperties.
func (n *apimNode) dcrIntoIS(km *kmRec, name string, grants []string, callback, tokenType string) (string, string, error) {
	props, _ := km.Body["additionalProperties"].(map[string]any)
	user, _ := props["Username"].(string)
	pass, _ := props["Password"].(string)
	tte := "Default"
	if tokenType == "JWT" {
		tte = "JWT"
	}
	body := map[string]any{"client_name": name, "grant_types": grants, "token_type_extension": tte,
		"ext_application_owner": n.p.opts.AdminUser, "ext_application_token_lifetime": 3600, "ext_user_token_lifetime": 3600}
	if callback != "" {
		body["redirect_uris"] = []string{callback}
	}
	js, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(n.p.ctx, http.MethodPost, km.str("clientRegistrationEndpoint"), bytes.NewReader(js))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", basicHeader(user, pass))
	resp, err := n.p.out.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("IS DCR answered %d", resp.StatusCode)
	}
	var out struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(rb, &out); err != nil || out.ID == "" {
		return "", "", fmt.Errorf("IS DCR answer has no client_id")
	}
	return out.ID, out.Secret, nil
}

func (n *apimNode) listKeys(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.app(w, r.PathValue("applicationId"))
	if a == nil {
		return
	}
	list := []any{}
	for _, k := range a.Keys {
		list = append(list, keyBody(k))
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "list": list})
}

func (n *apimNode) generateToken(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	_ = decodeBody(r, &in)
	n.mu.Lock()
	a := n.app(w, r.PathValue("applicationId"))
	if a == nil {
		n.mu.Unlock()
		return
	}
	var k *keyMapping
	for _, x := range a.Keys {
		if x.ID == r.PathValue("keyMappingId") {
			k = x
		}
	}
	var km *kmRec
	if k != nil && k.KMID != "" {
		km = n.kmByNameOrID(k.KMID)
	}
	n.mu.Unlock()
	if k == nil {
		writeWSO2Error(w, 404, 900703, "Not Found", "Key mapping "+r.PathValue("keyMappingId")+" not found")
		return
	}
	if s, _ := in["consumerSecret"].(string); s != "" && s != k.ConsumerSecret {
		writeWSO2Error(w, 400, 900700, "Bad Request", "consumerSecret does not match")
		return
	}
	var scopes []string
	if sc, ok := in["scopes"].([]any); ok {
		for _, x := range sc {
			scopes = append(scopes, fmt.Sprint(x))
		}
	}
	scope := strings.Join(scopes, " ")
	if scope == "" {
		scope = "default"
	}
	var tok string
	if km == nil {
		c := n.km.client(k.ConsumerKey)
		if c == nil {
			writeWSO2Error(w, 500, 900967, "General Error", "OAuth client missing")
			return
		}
		var err error
		if tok, _, err = n.km.mint(c, "", scope); err != nil {
			writeWSO2Error(w, 500, 900967, "General Error", "token signing failed")
			return
		}
	} else {
		// Through the external KM's token endpoint, as the connector does.
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
		req, _ := http.NewRequestWithContext(n.p.ctx, http.MethodPost, km.str("tokenEndpoint"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(k.ConsumerKey, k.ConsumerSecret)
		resp, err := n.p.out.Do(req)
		if err != nil {
			writeWSO2Error(w, 500, 900967, "General Error", "key manager token endpoint unreachable")
			return
		}
		var out struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != 200 || out.AccessToken == "" {
			writeWSO2Error(w, 500, 900967, "General Error", fmt.Sprintf("key manager token endpoint answered %d", resp.StatusCode))
			return
		}
		tok = out.AccessToken
	}
	writeJSON(w, 200, map[string]any{"accessToken": tok, "tokenScopes": strings.Fields(scope), "validityTime": 3600})
}
