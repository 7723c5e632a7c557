package sim

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	pubBase   = "/api/am/publisher/v4"
	devBase   = "/api/am/devportal/v3"
	adminBase = "/api/am/admin/v4"
	dcrBase   = "/client-registration/v0.17"
	intBase   = "/internal/data/v1"
	gwBase    = "/api/am/gateway/v2"

	residentKMName = "Resident Key Manager"
	defaultVhost   = "gw.wso2.com"
	// ackDelay is how long the emulated gateway takes to pull a deployed
	// revision and ack it: long enough that a client must poll, short enough
	// for fast tests.
	ackDelay = 30 * time.Millisecond
)

type apiRec struct {
	ID, Name, Context, Version, Provider, Status string
	Body                                         map[string]any
	Policies                                     []string
	Endpoint                                     string
	Created                                      time.Time
	Revisions                                    []*revisionRec
	Deployments                                  []*deploymentRec
	Live                                         bool // the gateway serves it
}

type revisionRec struct {
	ID, Desc string
	Num      int
	Created  time.Time
}

type deploymentRec struct {
	RevisionID, Name, Vhost string
	Display                 bool
	Acked                   bool
	Deployed, Success       time.Time
}

type appRec struct {
	ID, Name, Tier, Desc, TokenType, Owner string
	Created                                time.Time
	Keys                                   []*keyMapping
	Attributes                             map[string]any
}

type keyMapping struct {
	ID, KeyManager, KMID, ConsumerKey, ConsumerSecret, KeyType, Callback string
	Grants                                                               []string
}

type subRec struct{ ID, AppID, APIID, Tier, Status string }

type kmRec struct {
	ID   string
	Body map[string]any
}

func (k *kmRec) str(f string) string { s, _ := k.Body[f].(string); return s }
func (k *kmRec) enabled() bool {
	b, ok := k.Body["enabled"].(bool)
	return !ok || b
}

type revokedRec struct {
	Sig    string `json:"jwt_signature"`
	Expiry int64  `json:"expiry_time"`
}

// apimNode is the state of the APIM node(s): the database and the gateway's
// in-memory data (deployed APIs, revoked JWT map) kept separately, as in WSO2.
type apimNode struct {
	p  *Platform
	km *issuer

	mu         sync.Mutex
	apis       map[string]*apiRec
	apps       map[string]*appRec
	subs       map[string]*subRec
	kms        []*kmRec
	residentID string
	revokedDB  []revokedRec
	timers     []*time.Timer
	jwksCache  map[string]map[string]any // url -> kid -> *rsa.PublicKey
}

func newAPIMNode(p *Platform, key, wrong *rsa.PrivateKey) *apimNode {
	n := &apimNode{p: p, apis: map[string]*apiRec{}, apps: map[string]*appRec{}, subs: map[string]*subRec{},
		jwksCache: map[string]map[string]any{}, residentID: newUUID()}
	n.km = newIssuer(p, p.eps.KM(), key)
	n.km.regPath = dcrBase + "/register"
	n.km.userinfo = "/oauth2/userinfo"
	n.km.onRevoke = func(c claims, _ string) { n.recordRevocation(c.Jti, c.Exp*1000) }
	if p.fault(FaultResidentJWKSWrongKey) {
		n.km.jwksKey = &wrong.PublicKey
	}
	if p.fault(FaultResidentTokenWrongIssuer) {
		n.km.signIss = "https://localhost:9443/oauth2/token"
	}
	return n
}

func (n *apimNode) stopTimers() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, t := range n.timers {
		t.Stop()
	}
}

// recordRevocation stores the revoked jti (AM_REVOKED_JWT) and publishes it
// through the event hub to the gateways' revoked maps. expiryMS is epoch
// milliseconds.
func (n *apimNode) recordRevocation(jti string, expiryMS int64) {
	n.mu.Lock()
	n.revokedDB = append(n.revokedDB, revokedRec{Sig: jti, Expiry: expiryMS})
	n.mu.Unlock()
	n.p.publishRevocation(jti, expiryMS)
}

func (n *apimNode) registerManagement(mux *http.ServeMux) {
	// Portals.
	for _, app := range []string{"publisher", "devportal", "admin"} {
		mux.HandleFunc("GET /"+app, redirect("/"+app+"/"))
		mux.HandleFunc("GET /"+app+"/{$}", portalPage)
		mux.HandleFunc("GET /"+app+"/services/settings/settings.js", settingsJS(n.p, app))
	}
	mux.HandleFunc("GET /carbon", redirect("/carbon/admin/index.jsp"))
	mux.HandleFunc("GET /carbon/{$}", redirect("/carbon/admin/index.jsp"))
	mux.HandleFunc("GET /carbon/admin/index.jsp", redirect("/carbon/admin/login.jsp"))
	mux.HandleFunc("GET /carbon/admin/login.jsp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=UTF-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>WSO2 Management Console</title></head><body><form action="../admin/login_action.jsp" method="POST"><input name="username"/><input name="password" type="password"/></form></body></html>`)
	})
	mux.HandleFunc("GET /services/Version", carbonVersion)

	mux.HandleFunc("POST "+dcrBase+"/register", n.dcr)

	mux.HandleFunc("POST "+pubBase+"/apis", n.createAPI)
	mux.HandleFunc("GET "+pubBase+"/apis", n.listPubAPIs)
	mux.HandleFunc("GET "+pubBase+"/apis/{apiId}", n.getPubAPI)
	mux.HandleFunc("DELETE "+pubBase+"/apis/{apiId}", n.deleteAPI)
	mux.HandleFunc("POST "+pubBase+"/apis/{apiId}/revisions", n.createRevision)
	mux.HandleFunc("GET "+pubBase+"/apis/{apiId}/revisions", n.listRevisions)
	mux.HandleFunc("POST "+pubBase+"/apis/{apiId}/deploy-revision", n.deployRevision)
	mux.HandleFunc("GET "+pubBase+"/apis/{apiId}/deployments", n.listDeployments)
	mux.HandleFunc("POST "+pubBase+"/apis/change-lifecycle", n.changeLifecycle)
	mux.HandleFunc("GET "+pubBase+"/apis/{apiId}/lifecycle-state", n.lifecycleState)
	mux.HandleFunc("GET "+pubBase+"/settings", n.pubSettings)

	mux.HandleFunc("GET "+devBase+"/apis", n.listDevAPIs)
	mux.HandleFunc("GET "+devBase+"/apis/{apiId}", n.getDevAPI)
	mux.HandleFunc("POST "+devBase+"/applications", n.createApp)
	mux.HandleFunc("GET "+devBase+"/applications", n.listApps)
	mux.HandleFunc("GET "+devBase+"/applications/{applicationId}", n.getApp)
	mux.HandleFunc("DELETE "+devBase+"/applications/{applicationId}", n.deleteApp)
	mux.HandleFunc("POST "+devBase+"/subscriptions", n.subscribe)
	mux.HandleFunc("GET "+devBase+"/subscriptions", n.listSubs)
	mux.HandleFunc("POST "+devBase+"/applications/{applicationId}/generate-keys", n.generateKeys)
	mux.HandleFunc("GET "+devBase+"/applications/{applicationId}/oauth-keys", n.listKeys)
	mux.HandleFunc("POST "+devBase+"/applications/{applicationId}/oauth-keys/{keyMappingId}/generate-token", n.generateToken)

	mux.HandleFunc("GET "+adminBase+"/key-managers", n.listKMs)
	mux.HandleFunc("POST "+adminBase+"/key-managers", n.createKM)
	mux.HandleFunc("GET "+adminBase+"/key-managers/{keyManagerId}", n.getKM)
	mux.HandleFunc("PUT "+adminBase+"/key-managers/{keyManagerId}", n.updateKM)
	mux.HandleFunc("DELETE "+adminBase+"/key-managers/{keyManagerId}", n.deleteKM)
	mux.HandleFunc("GET "+adminBase+"/environments/{environmentId}/gateways", n.gateways)

	mux.HandleFunc("POST "+intBase+"/notify", n.notify)
	mux.HandleFunc("GET "+intBase+"/revokedjwt", n.revokedJWT)

	// Anything else: operations the contract has but the emulator does not
	// implement answer 501 (and are not counted as violations).
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if n.p.specs.byPath(r.URL.Path) != nil {
			infoOf(r).notEmulated = true
			writeWSO2Error(w, http.StatusNotImplemented, 501, "Not Implemented", "apimsim does not emulate "+r.Method+" "+r.URL.Path)
			return
		}
		http.NotFound(w, r)
	})
}

func (n *apimNode) registerGatewayMgmt(mux *http.ServeMux) {
	mux.HandleFunc("GET "+gwBase+"/server-startup-healthcheck", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if n.p.fault(FaultGatewayUnhealthy) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "APIs are not deployed yet")
			return
		}
		io.WriteString(w, "OK")
	})
	mux.HandleFunc("GET "+gwBase+"/api-artifact", n.apiArtifact)
}

// carbonVersion is the Carbon version service every WSO2 node answers (the
// charts' liveness probe).
func carbonVersion(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/xml")
	io.WriteString(w, `<ns:getVersionResponse xmlns:ns="http://version.services.core.carbon.wso2.org"><return>WSO2 API Manager-4.7.0</return></ns:getVersionResponse>`)
}

func redirect(to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, to, http.StatusFound) }
}

// portalPage is the React shell of the portals: the title is filled by JS.
func portalPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	io.WriteString(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title></title></head><body><div id="react-root"></div><script src="site/public/dist/index.js"></script></body></html>`)
}

func settingsJS(p *Platform, app string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		fmt.Fprintf(w, "const AppConfig = {\n  app: { context: '/%s', origin: { host: '%s' } },\n  idp: { origin: { host: '%s' } },\n};\nif (typeof module !== 'undefined') { module.exports = AppConfig; }\n",
			app, strings.TrimPrefix(p.eps.Management, "https://"), strings.TrimPrefix(p.eps.Management, "https://"))
	}
}

func decodeBody(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ---- DCR ----

func (n *apimNode) dcr(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := decodeBody(r, &in); err != nil {
		writeWSO2Error(w, 400, 400, "Bad Request", "invalid JSON body")
		return
	}
	str := func(k string) string { s, _ := in[k].(string); return s }
	name := str("clientName")
	if name == "" {
		writeWSO2Error(w, 400, 400, "Bad Request", "clientName is required")
		return
	}
	owner := str("owner")
	if owner == "" {
		owner = infoOf(r).user
	}
	tokenType := str("tokenType")
	if tokenType == "" {
		tokenType = "JWT"
	}
	c := n.km.clientByName(name)
	if c == nil {
		c = n.km.addClient(&oauthClient{Name: name, Owner: owner, Callback: str("callbackUrl"), Grants: strings.Fields(str("grantType")), TokenType: tokenType, AppUUID: newUUID()})
	}
	js, _ := json.Marshal(map[string]any{"grant_types": strings.Join(c.Grants, " "), "redirect_uris": c.Callback, "client_name": c.Name})
	writeJSON(w, 200, map[string]any{
		"clientId": c.ID, "clientSecret": c.Secret, "clientName": c.Name, "callBackURL": c.Callback,
		"isSaasApplication": "true", "appOwner": c.Owner, "jsonString": string(js), "jsonAppAttribute": "{}",
		"applicationUUID": c.AppUUID, "tokenType": c.TokenType,
	})
}

// ---- Publisher ----

func (n *apimNode) api(w http.ResponseWriter, id string) *apiRec {
	a := n.apis[id]
	if a == nil {
		writeWSO2Error(w, 404, 900310, "Not Found", "Requested API with id '"+id+"' not found")
	}
	return a
}

func (n *apimNode) createAPI(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	if err := decodeBody(r, &in); err != nil {
		writeWSO2Error(w, 400, 400, "Bad Request", "invalid JSON body")
		return
	}
	name, _ := in["name"].(string)
	version, _ := in["version"].(string)
	ctx, _ := in["context"].(string)
	ctx = "/" + strings.Trim(ctx, "/")
	// WSO2 stores the context without the version segment.
	ctx = strings.TrimSuffix(strings.TrimSuffix(ctx, "/{version}"), "/"+version)
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.apis {
		if a.Context == ctx && a.Version == version {
			writeWSO2Error(w, 409, 900300, "Conflict", "An API with context "+ctx+" and version "+version+" already exists")
			return
		}
		if a.Name == name && a.Version == version {
			writeWSO2Error(w, 409, 900300, "Conflict", "An API with name "+name+" and version "+version+" already exists")
			return
		}
	}
	a := &apiRec{ID: newUUID(), Name: name, Version: version, Context: ctx, Provider: infoOf(r).user, Status: "CREATED", Body: in, Created: time.Now()}
	if a.Provider == "" {
		a.Provider = n.p.opts.AdminUser
	}
	if pol, ok := in["policies"].([]any); ok {
		for _, x := range pol {
			if s, ok := x.(string); ok {
				a.Policies = append(a.Policies, s)
			}
		}
	}
	if ec, ok := in["endpointConfig"].(map[string]any); ok {
		if pe, ok := ec["production_endpoints"].(map[string]any); ok {
			a.Endpoint, _ = pe["url"].(string)
		}
	}
	n.apis[a.ID] = a
	w.Header().Set("Location", n.p.eps.Management+pubBase+"/apis/"+a.ID)
	writeJSON(w, 201, n.pubAPIBody(a))
}

func (n *apimNode) pubAPIBody(a *apiRec) map[string]any {
	out := map[string]any{}
	for k, v := range a.Body {
		out[k] = v
	}
	out["id"], out["name"], out["context"], out["version"] = a.ID, a.Name, a.Context, a.Version
	out["provider"], out["lifeCycleStatus"] = a.Provider, a.Status
	out["createdTime"], out["lastUpdatedTime"] = a.Created.UTC().Format(time.RFC3339), a.Created.UTC().Format(time.RFC3339)
	setDefault(out, "type", "HTTP")
	setDefault(out, "transport", []any{"http", "https"})
	setDefault(out, "visibility", "PUBLIC")
	setDefault(out, "isDefaultVersion", false)
	setDefault(out, "isRevision", false)
	setDefault(out, "gatewayType", "wso2/synapse")
	setDefault(out, "securityScheme", []any{"oauth2", "oauth_basic_auth_api_key_mandatory"})
	if a.Policies == nil {
		out["policies"] = []any{}
	}
	return out
}

func setDefault(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

func (n *apimNode) pubAPIInfo(a *apiRec) map[string]any {
	return map[string]any{"id": a.ID, "name": a.Name, "context": a.Context, "version": a.Version, "provider": a.Provider,
		"type": "HTTP", "lifeCycleStatus": a.Status, "hasThumbnail": false, "securityScheme": []any{"oauth2"},
		"createdTime": fmt.Sprint(a.Created.UnixMilli()), "gatewayVendor": "wso2", "gatewayType": "wso2/synapse"}
}

func (n *apimNode) listPubAPIs(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := []any{}
	for _, a := range n.sortedAPIs() {
		list = append(list, n.pubAPIInfo(a))
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "list": list, "pagination": map[string]any{"offset": 0, "limit": 25, "total": len(list)}})
}

func (n *apimNode) sortedAPIs() []*apiRec {
	var out []*apiRec
	for _, a := range n.apis {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

func (n *apimNode) getPubAPI(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a := n.api(w, r.PathValue("apiId")); a != nil {
		writeJSON(w, 200, n.pubAPIBody(a))
	}
}

func (n *apimNode) deleteAPI(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.api(w, r.PathValue("apiId"))
	if a == nil {
		return
	}
	for _, s := range n.subs {
		if s.APIID == a.ID {
			writeWSO2Error(w, 409, 900343, "Conflict", "Cannot remove the API as active subscriptions exist")
			return
		}
	}
	delete(n.apis, a.ID)
	a.Live = false
	w.WriteHeader(200)
}

func (n *apimNode) revisionBody(a *apiRec, rv *revisionRec) map[string]any {
	deps := []any{}
	for _, d := range a.Deployments {
		if d.RevisionID == rv.ID {
			deps = append(deps, n.deploymentBody(d))
		}
	}
	return map[string]any{"id": rv.ID, "displayName": fmt.Sprintf("Revision %d", rv.Num), "description": rv.Desc,
		"createdTime": rfc3339(rv.Created), "apiInfo": map[string]any{"id": a.ID}, "deploymentInfo": deps}
}

func (n *apimNode) createRevision(w http.ResponseWriter, r *http.Request) {
	var in map[string]any
	_ = decodeBody(r, &in)
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.api(w, r.PathValue("apiId"))
	if a == nil {
		return
	}
	if len(a.Revisions) >= 5 {
		writeWSO2Error(w, 400, 901105, "MAXIMUM_REVISIONS_REACHED", "Maximum number of revisions per API has reached")
		return
	}
	desc, _ := in["description"].(string)
	rv := &revisionRec{ID: newUUID(), Desc: desc, Num: len(a.Revisions) + 1, Created: time.Now()}
	a.Revisions = append(a.Revisions, rv)
	writeJSON(w, 201, n.revisionBody(a, rv))
}

func (n *apimNode) listRevisions(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.api(w, r.PathValue("apiId"))
	if a == nil {
		return
	}
	onlyDeployed := r.URL.Query().Get("query") == "deployed:true"
	list := []any{}
	for _, rv := range a.Revisions {
		deployed := false
		for _, d := range a.Deployments {
			deployed = deployed || d.RevisionID == rv.ID
		}
		if onlyDeployed && !deployed {
			continue
		}
		list = append(list, n.revisionBody(a, rv))
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "list": list})
}

func (n *apimNode) deploymentBody(d *deploymentRec) map[string]any {
	m := map[string]any{"revisionUuid": d.RevisionID, "name": d.Name, "vhost": d.Vhost, "displayOnDevportal": d.Display,
		"status": "CREATED", "deployedTime": rfc3339(d.Deployed), "liveGatewayCount": 0, "deployedGatewayCount": 0, "failedGatewayCount": 0}
	if d.Acked {
		m["status"] = "APPROVED"
		m["successDeployedTime"] = rfc3339(d.Success)
		m["liveGatewayCount"], m["deployedGatewayCount"] = len(n.p.gateways), len(n.p.gateways)
	}
	return m
}

func (n *apimNode) deployRevision(w http.ResponseWriter, r *http.Request) {
	var in []map[string]any
	if err := decodeBody(r, &in); err != nil {
		writeWSO2Error(w, 400, 400, "Bad Request", "the body must be an array of {name, vhost, displayOnDevportal}")
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.api(w, r.PathValue("apiId"))
	if a == nil {
		return
	}
	revID := r.URL.Query().Get("revisionId")
	var rv *revisionRec
	for _, x := range a.Revisions {
		if x.ID == revID {
			rv = x
		}
	}
	if rv == nil {
		writeWSO2Error(w, 404, 902004, "Not Found", "Requested revision with id '"+revID+"' not found")
		return
	}
	var created []*deploymentRec
	for _, e := range in {
		name, _ := e["name"].(string)
		vhost, _ := e["vhost"].(string)
		display, _ := e["displayOnDevportal"].(bool)
		if name != "Default" {
			writeWSO2Error(w, 400, 900916, "Bad Request", "Gateway environment '"+name+"' not found; the only environment is Default")
			return
		}
		if vhost == "" {
			vhost = defaultVhost
		}
		if vhost != defaultVhost {
			writeWSO2Error(w, 400, 900916, "Bad Request", "Invalid vhost '"+vhost+"' for environment Default; GET /settings lists "+defaultVhost)
			return
		}
		created = append(created, &deploymentRec{RevisionID: rv.ID, Name: name, Vhost: vhost, Display: display, Deployed: time.Now()})
	}
	// One revision per environment: a new deployment replaces the old one.
	var keep []*deploymentRec
	for _, d := range a.Deployments {
		replaced := false
		for _, c := range created {
			replaced = replaced || c.Name == d.Name
		}
		if !replaced {
			keep = append(keep, d)
		}
	}
	a.Deployments = append(keep, created...)
	out := []any{}
	for _, d := range created {
		out = append(out, n.deploymentBody(d))
		if !n.p.fault(FaultAPINeverDeployed) {
			d := d
			n.timers = append(n.timers, time.AfterFunc(ackDelay, func() {
				n.mu.Lock()
				defer n.mu.Unlock()
				d.Acked, d.Success = true, time.Now()
				a.Live = true
			}))
		}
	}
	writeJSON(w, 201, out)
}

func (n *apimNode) listDeployments(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.api(w, r.PathValue("apiId"))
	if a == nil {
		return
	}
	list := []any{}
	for _, d := range a.Deployments {
		list = append(list, n.deploymentBody(d))
	}
	writeJSON(w, 200, map[string]any{"count": len(list), "list": list})
}

var lifecycle = map[string]struct {
	from []string
	to   string
}{
	"Publish":               {[]string{"CREATED", "PROTOTYPED", "PUBLISHED"}, "PUBLISHED"},
	"Deploy as a Prototype": {[]string{"CREATED", "PROTOTYPED"}, "PROTOTYPED"},
	"Demote to Created":     {[]string{"PROTOTYPED", "PUBLISHED"}, "CREATED"},
	"Block":                 {[]string{"PUBLISHED"}, "BLOCKED"},
	"Re-Publish":            {[]string{"BLOCKED", "DEPRECATED"}, "PUBLISHED"},
	"Deprecate":             {[]string{"PUBLISHED"}, "DEPRECATED"},
	"Retire":                {[]string{"DEPRECATED"}, "RETIRED"},
}

var stateNames = map[string]string{"CREATED": "Created", "PROTOTYPED": "Prototyped", "PUBLISHED": "Published", "BLOCKED": "Blocked", "DEPRECATED": "Deprecated", "RETIRED": "Retired"}

func lifecycleStateBody(status string) map[string]any {
	trans := []any{}
	for action, t := range lifecycle {
		for _, f := range t.from {
			if f == status && t.to != status {
				trans = append(trans, map[string]any{"event": action, "targetState": stateNames[t.to]})
			}
		}
	}
	sort.Slice(trans, func(i, j int) bool {
		return trans[i].(map[string]any)["event"].(string) < trans[j].(map[string]any)["event"].(string)
	})
	return map[string]any{"state": stateNames[status], "checkItems": []any{}, "availableTransitions": trans}
}

func (n *apimNode) changeLifecycle(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.api(w, q.Get("apiId"))
	if a == nil {
		return
	}
	t, ok := lifecycle[q.Get("action")]
	if !ok || !contains(t.from, a.Status) {
		writeWSO2Error(w, 400, 900372, "Bad Request", fmt.Sprintf("Action '%s' is not allowed in state %s", q.Get("action"), stateNames[a.Status]))
		return
	}
	a.Status = t.to
	writeJSON(w, 200, map[string]any{"workflowStatus": "APPROVED", "jsonPayload": "", "lifecycleState": lifecycleStateBody(a.Status)})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (n *apimNode) lifecycleState(w http.ResponseWriter, r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a := n.api(w, r.PathValue("apiId")); a != nil {
		writeJSON(w, 200, lifecycleStateBody(a.Status))
	}
}

func (n *apimNode) environmentBody() map[string]any {
	return map[string]any{"id": "Default", "name": "Default", "displayName": "Default", "type": "hybrid", "gatewayType": "Regular",
		"serverUrl": n.p.eps.GatewayMgmt() + "/services/", "provider": "wso2", "showInApiConsole": true,
		"vhosts": []any{map[string]any{"host": defaultVhost, "httpContext": "", "httpPort": 80, "httpsPort": 443, "wsPort": 9099, "wssPort": 8099}}}
}

func (n *apimNode) pubSettings(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{
		"devportalUrl": n.p.eps.Management + "/devportal", "environment": []any{n.environmentBody()},
		"gatewayTypes": []any{"Regular"}, "scopes": []any{"apim:api_view", "apim:api_create", "apim:api_publish", "apim:api_manage", "apim:api_delete"},
		"externalStoresEnabled": false, "docVisibilityEnabled": false, "crossTenantSubscriptionEnabled": false,
		"authorizationHeader": "Authorization", "isGatewayNotificationEnabled": true,
	})
}

// ---- Gateway management ----

func (n *apimNode) apiArtifact(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.p.basicAdmin(r); !ok {
		writeWSO2Error(w, 401, 900902, "Unauthenticated request", "Basic admin authentication is required")
		return
	}
	q := r.URL.Query()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, a := range n.apis {
		if a.Name == q.Get("apiName") && a.Version == q.Get("version") && a.Live {
			w.Header().Set("Content-Type", "application/json")
			js, _ := json.Marshal(map[string]any{"api": a.Name + "--v" + a.Version, "context": a.Context + "/" + a.Version, "endpoint": a.Endpoint})
			w.Write(js)
			return
		}
	}
	writeJSON(w, 404, map[string]any{"code": 404, "message": "Not Found", "description": "Requested API with name " + q.Get("apiName") + " and version " + q.Get("version") + " is not deployed in the gateway"})
}

// ---- Internal data ----

func (n *apimNode) notify(w http.ResponseWriter, r *http.Request) {
	if _, ok := n.p.basicAdmin(r); !ok {
		writeJSON(w, 401, map[string]any{"code": 401, "message": "Unauthenticated request"})
		return
	}
	body, _ := io.ReadAll(r.Body)
	kmType := r.Header.Get("X-WSO2-KEY-MANAGER")
	switch kmType {
	case "", "default", "WSO2-IS":
	default:
		// No handler of that type: WSO2 ignores the event but answers 200.
		n.p.logf("notify: no event handler for X-WSO2-KEY-MANAGER %q, event ignored", kmType)
		writeJSON(w, 200, map[string]any{})
		return
	}
	if strings.Contains(string(body), "token_revocation") {
		var ev struct {
			Type        string `json:"type"`
			AccessToken string `json:"accessToken"`
			ExpiryTime  int64  `json:"expiryTime"`
		}
		if err := json.Unmarshal(body, &ev); err != nil || ev.AccessToken == "" {
			writeJSON(w, 500, map[string]any{"code": 500, "message": "Error while processing the event"})
			return
		}
		n.recordRevocation(ev.AccessToken, ev.ExpiryTime)
	}
	writeJSON(w, 200, map[string]any{})
}

// revokedJWT answers the array of {jwt_signature, expiry_time} that 4.6/4.7
// serve (facts §6.4). The contract on master describes a wrapping object
// (RevokedEvents); response validation is skipped for this one operation.
func (n *apimNode) revokedJWT(w http.ResponseWriter, r *http.Request) {
	infoOf(r).notEmulated = true
	if _, ok := n.p.basicAdmin(r); !ok {
		writeJSON(w, 401, map[string]any{"code": 401, "message": "Unauthenticated request"})
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	out := append([]revokedRec{}, n.revokedDB...)
	writeJSON(w, 200, out)
}
