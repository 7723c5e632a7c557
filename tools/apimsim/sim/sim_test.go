package sim

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type env struct {
	t *testing.T
	p *Platform
	c *http.Client
	m string // management base
	g string // gateway base
	i string // IS base
}

func start(t *testing.T, faults ...string) *env {
	t.Helper()
	var log bytes.Buffer
	p, err := Start(context.Background(), Options{Pattern: 6, Faults: faults, Log: &log, SlowStart: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		for _, s := range []string{"Bearer ey", "client_secret=", "password=admin"} {
			if strings.Contains(log.String(), s) {
				t.Errorf("log leaks a secret (%q)", s)
			}
		}
		if t.Failed() {
			t.Logf("log:\n%s", log.String())
		}
	})
	e := p.Endpoints()
	c, err := e.HTTPClient(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, p: p, c: c, m: e.Management, g: e.Gateway, i: e.IdentityServer}
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r resp) s(k string) string { v, _ := r.body[k].(string); return v }

func (e *env) do(method, u, auth string, body any) resp {
	e.t.Helper()
	return e.doH(method, u, auth, body, nil)
}

func (e *env) doH(method, u, auth string, body any, hdr map[string]string) resp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	default:
		js, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(js), "application/json"
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func (e *env) want(r resp, status int, what string) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.raw)
	}
	return r
}

func basic(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
func bearerH(t string) string  { return "Bearer " + t }

const allScopes = "apim:api_view apim:api_create apim:api_publish apim:api_manage apim:api_delete apim:subscribe apim:app_manage apim:sub_manage apim:admin"

// adminToken does DCR and a password grant at the resident KM.
func (e *env) adminToken(scope string) string {
	r := e.want(e.do("POST", e.m+"/client-registration/v0.17/register", basic("admin", "admin"), map[string]any{
		"clientName": "conformance_rest", "owner": "admin", "grantType": "client_credentials password refresh_token", "saasApp": "true", "tokenType": "JWT", "callbackUrl": "www.google.lk",
	}), 200, "dcr")
	for _, f := range []string{"clientId", "clientSecret", "clientName", "callBackURL", "isSaasApplication", "appOwner", "jsonString", "applicationUUID", "tokenType"} {
		if _, ok := r.body[f]; !ok {
			e.t.Fatalf("DCR answer lacks %s", f)
		}
	}
	tr := e.want(e.do("POST", e.m+"/oauth2/token", basic(r.s("clientId"), r.s("clientSecret")),
		url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"admin"}, "scope": {scope}}), 200, "token")
	return tr.s("access_token")
}

type flow struct {
	tok, apiID, appID, kmID, ck, cs, isTok string
}

// deployedAPI creates, revisions, deploys and publishes the sample API.
func (e *env) deployedAPI(tok string, wantLive bool) string {
	api := e.want(e.do("POST", e.m+"/api/am/publisher/v4/apis", bearerH(tok), map[string]any{
		"name": "SampleAPI", "context": "/sample", "version": "1.0.0", "policies": []string{"Unlimited"},
		"endpointConfig": map[string]any{"endpoint_type": "http", "production_endpoints": map[string]any{"url": "http://apim-conformance-echo:8080/api"}, "sandbox_endpoints": map[string]any{"url": "http://apim-conformance-echo:8080/api"}},
		"operations":     []any{map[string]any{"target": "/menu", "verb": "GET", "authType": "Application & Application User", "throttlingPolicy": "Unlimited"}},
	}), 201, "create API")
	if api.s("context") != "/sample" {
		e.t.Fatalf("context %q", api.s("context"))
	}
	id := api.s("id")
	e.want(e.do("GET", e.m+"/api/am/publisher/v4/apis/"+id, bearerH(tok), nil), 200, "get API")
	rev := e.want(e.do("POST", e.m+"/api/am/publisher/v4/apis/"+id+"/revisions", bearerH(tok), map[string]any{"description": "r1"}), 201, "revision")
	st := e.want(e.do("GET", e.m+"/api/am/publisher/v4/settings", bearerH(tok), nil), 200, "settings")
	vhost := st.body["environment"].([]any)[0].(map[string]any)["vhosts"].([]any)[0].(map[string]any)["host"].(string)
	e.want(e.do("POST", e.m+"/api/am/publisher/v4/apis/"+id+"/deploy-revision?revisionId="+rev.s("id"), bearerH(tok),
		[]any{map[string]any{"name": "Default", "vhost": vhost, "displayOnDevportal": true}}), 201, "deploy")
	live := false
	for i := 0; i < 50 && !live; i++ {
		d := e.want(e.do("GET", e.m+"/api/am/publisher/v4/apis/"+id+"/deployments", bearerH(tok), nil), 200, "deployments")
		for _, x := range d.body["list"].([]any) {
			m := x.(map[string]any)
			live = live || (m["status"] == "APPROVED" && m["liveGatewayCount"].(float64) > 0)
		}
		if !live {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if live != wantLive {
		e.t.Fatalf("deployment live=%v, want %v", live, wantLive)
	}
	e.want(e.do("GET", e.m+"/api/am/publisher/v4/apis/"+id+"/revisions?query=deployed:true", bearerH(tok), nil), 200, "deployed revisions")
	lc := e.want(e.do("POST", e.m+"/api/am/publisher/v4/apis/change-lifecycle?apiId="+id+"&action=Publish", bearerH(tok), nil), 200, "publish")
	if lc.s("workflowStatus") != "APPROVED" || lc.body["lifecycleState"].(map[string]any)["state"] != "Published" {
		e.t.Fatalf("publish answer %s", lc.raw)
	}
	e.want(e.do("GET", e.m+"/api/am/publisher/v4/apis/"+id+"/lifecycle-state", bearerH(tok), nil), 200, "lifecycle state")
	return id
}

// is7KM registers IS as a WSO2-IS-7 key manager.
func (e *env) is7KM(tok string) resp {
	return e.do("POST", e.m+"/api/am/admin/v4/key-managers", bearerH(tok), map[string]any{
		"name": "IS7", "type": "WSO2-IS-7", "enabled": true, "issuer": e.i + "/oauth2/token",
		"clientRegistrationEndpoint": e.i + "/api/identity/oauth2/dcr/v1.1/register", "tokenEndpoint": e.i + "/oauth2/token",
		"revokeEndpoint": e.i + "/oauth2/revoke", "introspectionEndpoint": e.i + "/oauth2/introspect", "userInfoEndpoint": e.i + "/scim2/Me",
		"certificates": map[string]any{"type": "JWKS", "value": e.i + "/oauth2/jwks"}, "enableSelfValidationJWT": true,
		"additionalProperties": map[string]any{"Username": "admin", "Password": "admin", "api_resource_management_endpoint": e.i + "/api/server/v1/api-resources", "is7_roles_endpoint": e.i + "/scim2/v2/Roles"},
	})
}

// fullFlow runs the pattern-6 happy path up to an IS token that may invoke.
func (e *env) fullFlow(subscribe bool) flow {
	var f flow
	f.tok = e.adminToken(allScopes)
	f.apiID = e.deployedAPI(f.tok, true)
	e.want(e.do("GET", e.m+"/api/am/devportal/v3/apis", "", nil), 200, "devportal apis")
	d := e.want(e.do("GET", e.m+"/api/am/devportal/v3/apis/"+f.apiID, "", nil), 200, "devportal api")
	if !strings.Contains(string(d.raw), e.g+"/sample/1.0.0") {
		e.t.Fatalf("endpointURLs lack the gateway URL: %s", d.raw)
	}
	app := e.want(e.do("POST", e.m+"/api/am/devportal/v3/applications", bearerH(f.tok), map[string]any{"name": "ConfApp", "throttlingPolicy": "Unlimited", "tokenType": "JWT"}), 201, "app")
	f.appID = app.s("applicationId")
	if subscribe {
		e.want(e.do("POST", e.m+"/api/am/devportal/v3/subscriptions", bearerH(f.tok), map[string]any{"applicationId": f.appID, "apiId": f.apiID, "throttlingPolicy": "Unlimited"}), 201, "subscribe")
		e.want(e.do("GET", e.m+"/api/am/devportal/v3/subscriptions?applicationId="+f.appID, bearerH(f.tok), nil), 200, "subs")
	}
	km := e.want(e.is7KM(f.tok), 201, "register KM")
	f.kmID = km.s("id")
	e.want(e.do("GET", e.m+"/api/am/admin/v4/key-managers", bearerH(f.tok), nil), 200, "list KMs")
	keys := e.want(e.do("POST", e.m+"/api/am/devportal/v3/applications/"+f.appID+"/generate-keys", bearerH(f.tok), map[string]any{
		"keyType": "PRODUCTION", "keyManager": "IS7", "grantTypesToBeSupported": []string{"client_credentials", "password", "refresh_token"}}), 200, "generate-keys")
	f.ck, f.cs = keys.s("consumerKey"), keys.s("consumerSecret")
	if e.p.is.km.client(f.ck) == nil {
		e.t.Fatal("consumer key is not an IS client")
	}
	e.want(e.do("GET", e.m+"/api/am/devportal/v3/applications/"+f.appID+"/oauth-keys", bearerH(f.tok), nil), 200, "oauth-keys")
	f.isTok = e.want(e.do("POST", e.i+"/oauth2/token", basic(f.ck, f.cs), url.Values{"grant_type": {"client_credentials"}}), 200, "IS token").s("access_token")
	return f
}

func (e *env) invoke(tok string) resp {
	auth := ""
	if tok != "" {
		auth = bearerH(tok)
	}
	return e.do("GET", e.g+"/sample/1.0.0/menu?x=1", auth, nil)
}

func (e *env) noViolations() {
	e.t.Helper()
	for _, v := range e.p.Violations() {
		e.t.Errorf("violation: %+v", v)
	}
}

func TestStartClose(t *testing.T) {
	t0 := time.Now()
	p, err := Start(context.Background(), Options{Pattern: 6})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first Start %v", time.Since(t0))
	ep := p.Endpoints()
	if ep.Management != "https://apim-wso2am-all-in-one-am-service:9443" || ep.Gateway != "https://apim-wso2am-all-in-one-am-service:8243" ||
		ep.IdentityServer != "https://is-identity-server:9443" || ep.Backend != "http://apim-conformance-echo:8080" || len(ep.HostMap) != 4 || ep.Validate() != nil {
		t.Fatalf("endpoints %+v", ep)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	p, err = Start(context.Background(), Options{Pattern: 6})
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(t0)
	p.Close()
	t.Logf("second Start %v", d)
	if d > 300*time.Millisecond {
		t.Errorf("second Start took %v", d)
	}
	if _, err := Start(context.Background(), Options{Faults: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "slow-start") {
		t.Fatalf("unknown fault error %v", err)
	}
	if _, err := Start(context.Background(), Options{Pattern: 7}); err == nil {
		t.Fatal("pattern 7 accepted")
	}
	if _, err := Start(context.Background(), Options{SpecDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "spec") {
		t.Fatalf("bad spec dir error %v", err)
	}
}

func TestFullFlow(t *testing.T) {
	e := start(t)
	f := e.fullFlow(true)
	r := e.want(e.invoke(f.isTok), 200, "invoke")
	if r.s("backend") != "apim-conformance-echo" || r.s("path") != "/api/menu" || r.s("query") != "x=1" || r.header.Get("X-Echo-Backend") != "apim-conformance" {
		t.Fatalf("echo answer %s", r.raw)
	}
	// Resident-KM application key and token also invoke.
	app := e.want(e.do("POST", e.m+"/api/am/devportal/v3/applications", bearerH(f.tok), map[string]any{"name": "ResApp", "throttlingPolicy": "Unlimited"}), 201, "app2")
	id := app.s("applicationId")
	e.want(e.do("POST", e.m+"/api/am/devportal/v3/subscriptions", bearerH(f.tok), map[string]any{"applicationId": id, "apiId": f.apiID, "throttlingPolicy": "Unlimited"}), 201, "sub2")
	k := e.want(e.do("POST", e.m+"/api/am/devportal/v3/applications/"+id+"/generate-keys", bearerH(f.tok), map[string]any{"keyType": "PRODUCTION", "grantTypesToBeSupported": []string{"client_credentials"}}), 200, "keys2")
	tk := e.want(e.do("POST", e.m+"/api/am/devportal/v3/applications/"+id+"/oauth-keys/"+k.s("keyMappingId")+"/generate-token", bearerH(f.tok), map[string]any{"consumerSecret": k.s("consumerSecret"), "validityPeriod": 3600, "scopes": []string{}}), 200, "generate-token")
	e.want(e.invoke(tk.s("accessToken")), 200, "invoke resident")
	// Resident client_credentials with a JSON body.
	rt := e.want(e.do("POST", e.m+"/oauth2/token", basic(k.s("consumerKey"), k.s("consumerSecret")), `{"grant_type":"client_credentials"}`), 200, "json token")
	if rt.s("scope") != "default" {
		t.Fatalf("scope %q", rt.s("scope"))
	}
	// Resident revocation reaches the gateway.
	e.want(e.do("POST", e.m+"/oauth2/revoke", basic(k.s("consumerKey"), k.s("consumerSecret")), url.Values{"token": {rt.s("access_token")}}), 200, "revoke resident")
	e.want(e.invoke(rt.s("access_token")), 401, "revoked resident token")
	// IS extras.
	pw := e.want(e.do("POST", e.i+"/oauth2/token", basic(f.ck, f.cs), url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"admin"}}), 200, "IS password")
	me := e.want(e.do("GET", e.i+"/scim2/Me", bearerH(pw.s("access_token")), nil), 200, "scim2/Me")
	if me.s("userName") != "admin" {
		t.Fatalf("scim %s", me.raw)
	}
	e.want(e.do("POST", e.i+"/oauth2/token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {pw.s("refresh_token")}, "client_id": {f.ck}, "client_secret": {f.cs}}), 200, "IS refresh")
	disc := e.want(e.do("GET", e.i+"/oauth2/token/.well-known/openid-configuration", "", nil), 200, "IS discovery")
	if disc.s("issuer") != e.i+"/oauth2/token" || disc.s("registration_endpoint") != e.i+"/api/identity/oauth2/dcr/v1.1/register" {
		t.Fatalf("discovery %s", disc.raw)
	}
	disc = e.want(e.do("GET", e.m+"/oauth2/token/.well-known/openid-configuration", "", nil), 200, "APIM discovery")
	if disc.s("issuer") != e.m+"/oauth2/token" {
		t.Fatalf("discovery %s", disc.raw)
	}
	in := e.want(e.do("POST", e.i+"/oauth2/introspect", basic("admin", "admin"), url.Values{"token": {f.isTok}}), 200, "introspect")
	if in.body["active"] != true {
		t.Fatalf("introspect %s", in.raw)
	}
	e.want(e.do("GET", e.m+"/api/am/admin/v4/environments/Default/gateways", bearerH(f.tok), nil), 200, "gateways")
	e.want(e.do("GET", e.m+"/api/am/gateway/v2/api-artifact?apiName=SampleAPI&version=1.0.0&tenantDomain=carbon.super", basic("admin", "admin"), nil), 200, "artifact")
	e.want(e.do("GET", e.m+"/api/am/gateway/v2/server-startup-healthcheck", "", nil), 200, "healthcheck")
	e.want(e.do("GET", e.m+"/api/am/devportal/v3/applications/"+f.appID, bearerH(f.tok), nil), 200, "get app")
	e.want(e.do("GET", e.m+"/api/am/admin/v4/key-managers/"+f.kmID, bearerH(f.tok), nil), 200, "get KM")
	e.want(e.do("DELETE", e.m+"/api/am/devportal/v3/applications/"+id, bearerH(f.tok), nil), 200, "delete app")
	e.noViolations()
}

func TestGatewayErrors(t *testing.T) {
	e := start(t)
	f := e.fullFlow(false)
	r := e.want(e.invoke(""), 401, "no token")
	if r.s("code") != "900902" {
		t.Fatalf("missing creds %s", r.raw)
	}
	parts := strings.Split(f.isTok, ".")
	pl, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(pl, []byte(`"scope":"`), []byte(`"scope":"x `), 1)) + "." + parts[2]
	for name, tok := range map[string]string{"garbage": "abc", "tampered": tampered, "bad signature": parts[0] + "." + parts[1] + "." + parts[2][:10] + "AAAA" + parts[2][14:]} {
		if r := e.invoke(tok); r.status != 401 || r.s("code") != "900901" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
	r = e.want(e.invoke(f.isTok), 403, "no subscription")
	if r.s("code") != "900908" {
		t.Fatalf("forbidden %s", r.raw)
	}
	if r := e.do("GET", e.g+"/nothing/1.0.0/x", bearerH(f.isTok), nil); r.status != 404 {
		t.Fatalf("unknown API %d", r.status)
	}
	e.noViolations()
}

func TestRevocationNotify(t *testing.T) {
	e := start(t)
	f := e.fullFlow(true)
	e.want(e.invoke(f.isTok), 200, "before revoke")
	r := e.want(e.do("POST", e.i+"/oauth2/revoke", basic(f.ck, f.cs), url.Values{"token": {f.isTok}, "token_type_hint": {"access_token"}}), 200, "revoke")
	if len(r.raw) != 0 {
		t.Fatalf("revoke body %q", r.raw)
	}
	ok := false
	for i := 0; i < 100 && !ok; i++ {
		ok = e.invoke(f.isTok).status == 401
		if !ok {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if !ok {
		t.Fatal("revoked token still accepted")
	}
	l := e.do("GET", e.m+"/internal/data/v1/revokedjwt", basic("admin", "admin"), nil)
	if l.status != 200 || !strings.Contains(string(l.raw), `"jwt_signature"`) {
		t.Fatalf("revokedjwt %d %s", l.status, l.raw)
	}
	in := e.want(e.do("POST", e.i+"/oauth2/introspect", basic("admin", "admin"), url.Values{"token": {f.isTok}}), 200, "introspect")
	if in.body["active"] != false {
		t.Fatalf("introspect after revoke %s", in.raw)
	}
	// Unknown header value (the old docs' "WSO2IS"): 200, silently ignored.
	before := len(e.p.apim.revokedDB)
	e.want(e.doH("POST", e.m+"/internal/data/v1/notify", basic("admin", "admin"), `{"type":"token_revocation","accessToken":"x","expiryTime":1}`, map[string]string{"X-WSO2-KEY-MANAGER": "WSO2IS"}), 200, "notify")
	if len(e.p.apim.revokedDB) != before {
		t.Fatal("notify with an unknown handler type was processed")
	}
	e.want(e.doH("POST", e.m+"/internal/data/v1/notify", basic("admin", "admin"), `{"type":"token_revocation","accessToken":"y","expiryTime":1}`, map[string]string{"X-WSO2-KEY-MANAGER": "default"}), 200, "notify default")
	if len(e.p.apim.revokedDB) != before+1 {
		t.Fatal("notify default not processed")
	}
	e.noViolations()
}

func TestSpecViolation(t *testing.T) {
	e := start(t)
	tok := e.adminToken(allScopes)
	// name is required; "policies" must be an array.
	r := e.want(e.do("POST", e.m+"/api/am/publisher/v4/apis", bearerH(tok), map[string]any{"context": "/x", "version": "1", "policies": "Unlimited"}), 400, "invalid API")
	if r.body["code"] != float64(400) || r.s("message") != "Bad Request" || r.s("description") == "" {
		t.Fatalf("error body %s", r.raw)
	}
	e.want(e.do("GET", e.m+"/api/am/publisher/v4/no-such-thing", bearerH(tok), nil), 404, "undocumented path")
	vs := e.p.Violations()
	if len(vs) != 2 || vs[0].Direction != "request" || vs[0].Method != "POST" {
		t.Fatalf("violations %+v", vs)
	}
	// Auth: none, bad scope.
	e.want(e.do("GET", e.m+"/api/am/publisher/v4/apis", "", nil), 401, "no auth")
	low := e.adminToken("apim:subscribe")
	e.want(e.do("POST", e.m+"/api/am/publisher/v4/apis", bearerH(low), map[string]any{"name": "a", "context": "/a", "version": "1"}), 403, "scope")
	e.want(e.do("POST", e.m+"/client-registration/v0.17/register", basic("admin", "wrong"), map[string]any{"clientName": "x"}), 401, "dcr bad auth")
	if len(e.p.Violations()) != 2 {
		t.Fatalf("auth failures counted as violations: %+v", e.p.Violations())
	}
}

func TestPortals(t *testing.T) {
	e := start(t)
	for _, app := range []string{"publisher", "devportal", "admin"} {
		r := e.want(e.do("GET", e.m+"/"+app, "", nil), 302, app)
		if r.header.Get("Location") != "/"+app+"/" {
			t.Fatalf("%s location %q", app, r.header.Get("Location"))
		}
		r = e.want(e.do("GET", e.m+"/"+app+"/", "", nil), 200, app+"/")
		if !strings.Contains(string(r.raw), `<title></title>`) || !strings.Contains(string(r.raw), `<div id="react-root"></div>`) {
			t.Fatalf("%s page %s", app, r.raw)
		}
	}
	e.want(e.do("GET", e.m+"/publisher/services/settings/settings.js", "", nil), 200, "settings.js")
	e.want(e.do("GET", e.m+"/carbon", "", nil), 302, "carbon")
	e.want(e.do("GET", e.m+"/carbon/admin/index.jsp", "", nil), 302, "carbon index")
	e.want(e.do("GET", e.m+"/carbon/admin/login.jsp", "", nil), 200, "carbon login")
	if r := e.want(e.do("GET", e.m+"/services/Version", "", nil), 200, "version"); !strings.Contains(string(r.raw), "WSO2 API Manager-4.7.0") {
		t.Fatal(string(r.raw))
	}
	e.want(e.do("GET", e.i+"/console", "", nil), 200, "console")
	e.want(e.do("GET", e.i+"/api/health-check/v1.0/health", "", nil), 200, "IS health")
	j := e.want(e.do("GET", e.i+"/oauth2/jwks", "", nil), 200, "jwks")
	k := j.body["keys"].([]any)[0].(map[string]any)
	if k["use"] != "sig" || k["alg"] != "RS256" || !strings.HasSuffix(k["kid"].(string), "_RS256") {
		t.Fatalf("jwks %s", j.raw)
	}
}

func TestFaults(t *testing.T) {
	t.Run(FaultGatewayIgnoresRevocation, func(t *testing.T) {
		e := start(t, FaultGatewayIgnoresRevocation)
		f := e.fullFlow(true)
		e.want(e.do("POST", e.i+"/oauth2/revoke", basic(f.ck, f.cs), url.Values{"token": {f.isTok}}), 200, "revoke")
		listed := false
		for i := 0; i < 100 && !listed; i++ {
			listed = strings.Contains(string(e.do("GET", e.m+"/internal/data/v1/revokedjwt", basic("admin", "admin"), nil).raw), "jwt_signature")
			time.Sleep(5 * time.Millisecond)
		}
		if !listed {
			t.Fatal("revokedjwt does not list the revocation")
		}
		e.want(e.invoke(f.isTok), 200, "revoked token still works")
	})
	t.Run(FaultISNoNotification, func(t *testing.T) {
		e := start(t, FaultISNoNotification)
		f := e.fullFlow(true)
		e.want(e.do("POST", e.i+"/oauth2/revoke", basic(f.ck, f.cs), url.Values{"token": {f.isTok}}), 200, "revoke")
		time.Sleep(100 * time.Millisecond)
		if r := e.do("GET", e.m+"/internal/data/v1/revokedjwt", basic("admin", "admin"), nil); string(bytes.TrimSpace(r.raw)) != "[]" {
			t.Fatalf("revokedjwt %s", r.raw)
		}
		e.want(e.invoke(f.isTok), 200, "still accepted")
	})
	t.Run(FaultJWKSWrongKey, func(t *testing.T) {
		e := start(t, FaultJWKSWrongKey)
		f := e.fullFlow(true)
		if r := e.invoke(f.isTok); r.status != 401 || r.s("code") != "900901" {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run(FaultTokenWrongIssuer, func(t *testing.T) {
		e := start(t, FaultTokenWrongIssuer)
		f := e.fullFlow(true)
		if r := e.invoke(f.isTok); r.status != 401 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	})
	t.Run(FaultPortalDown, func(t *testing.T) {
		e := start(t, FaultPortalDown)
		e.want(e.do("GET", e.m+"/publisher/", "", nil), 503, "publisher")
		e.want(e.do("GET", e.m+"/carbon", "", nil), 503, "carbon")
		e.want(e.do("GET", e.m+"/api/am/devportal/v3/apis", "", nil), 200, "REST up")
	})
	t.Run(FaultGatewayNoSubscription, func(t *testing.T) {
		e := start(t, FaultGatewayNoSubscription)
		f := e.fullFlow(false)
		e.want(e.invoke(f.isTok), 200, "unsubscribed accepted")
	})
	t.Run(FaultAPINeverDeployed, func(t *testing.T) {
		e := start(t, FaultAPINeverDeployed)
		tok := e.adminToken(allScopes)
		e.deployedAPI(tok, false)
		e.want(e.do("GET", e.m+"/api/am/gateway/v2/api-artifact?apiName=SampleAPI&version=1.0.0", basic("admin", "admin"), nil), 404, "artifact")
		e.want(e.do("GET", e.g+"/sample/1.0.0/menu", "", nil), 404, "gateway")
		e.noViolations()
	})
	t.Run(FaultKMRegistrationRejected, func(t *testing.T) {
		e := start(t, FaultKMRegistrationRejected)
		r := e.want(e.is7KM(e.adminToken(allScopes)), 400, "register")
		if r.body["code"] != float64(901401) {
			t.Fatalf("%s", r.raw)
		}
	})
	t.Run(FaultSlowStart, func(t *testing.T) {
		e := start(t, FaultSlowStart)
		r := e.want(e.do("GET", e.m+"/api/am/gateway/v2/server-startup-healthcheck", "", nil), 503, "early")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
		time.Sleep(350 * time.Millisecond)
		e.want(e.do("GET", e.m+"/api/am/gateway/v2/server-startup-healthcheck", "", nil), 200, "later")
	})
}

func TestKMRules(t *testing.T) {
	e := start(t)
	tok := e.adminToken(allScopes)
	r := e.want(e.do("POST", e.m+"/api/am/admin/v4/key-managers", bearerH(tok), map[string]any{"name": "bad", "type": "WSO2-IS-7", "additionalProperties": map[string]any{}}), 400, "missing props")
	if r.body["code"] != float64(901401) {
		t.Fatal(string(r.raw))
	}
	e.want(e.is7KM(tok), 201, "first")
	e.want(e.is7KM(tok), 409, "duplicate")
	l := e.want(e.do("GET", e.m+"/api/am/admin/v4/key-managers", bearerH(tok), nil), 200, "list")
	if !strings.Contains(string(l.raw), "Resident Key Manager") {
		t.Fatal(string(l.raw))
	}
	app := e.want(e.do("POST", e.m+"/api/am/devportal/v3/applications", bearerH(tok), map[string]any{"name": "A", "throttlingPolicy": "Unlimited"}), 201, "app")
	e.want(e.do("POST", e.m+"/api/am/devportal/v3/applications/"+app.s("applicationId")+"/generate-keys", bearerH(tok), map[string]any{"keyType": "PRODUCTION", "keyManager": "nope", "grantTypesToBeSupported": []string{"client_credentials"}}), 404, "unknown KM")
	e.noViolations()
}

func TestRedact(t *testing.T) {
	for _, s := range []string{"Authorization: Bearer abc.def", "client_secret=xyz&a=b", `"password":"hunter2"`, "eyJhbGciOi.eyJzdWIi.sig"} {
		out := redact(s)
		for _, leak := range []string{"abc.def", "xyz", "hunter2", "eyJzdWIi"} {
			if strings.Contains(out, leak) {
				t.Errorf("redact(%q) = %q", s, out)
			}
		}
	}
}
