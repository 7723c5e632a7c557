package sim

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func gatewayError(w http.ResponseWriter, status int, code, msg, desc string) {
	writeJSON(w, status, map[string]string{"code": code, "message": msg, "description": desc})
}

func invalidCreds(w http.ResponseWriter) {
	gatewayError(w, 401, "900901", "Invalid Credentials", "Invalid Credentials. Make sure you have provided the correct security credentials")
}

// gatewayInstance is one gateway replica (a universal gateway pod, or an
// all-in-one's embedded gateway): its own revoked-token map, fed by the
// event hub, and its own deployment.toml wiring, by which it reaches the key
// manager. Deployed APIs, applications and subscriptions come from the
// shared database through the control plane, as in WSO2.
type gatewayInstance struct {
	p    *Platform
	n    *apimNode
	comp string
	idx  int
	wire wiring

	mu      sync.Mutex
	revoked map[string]int64 // jti -> expiry (ms)
}

func newGatewayInstance(p *Platform, comp string, idx int, w wiring) *gatewayInstance {
	return &gatewayInstance{p: p, n: p.apim, comp: comp, idx: idx, wire: w, revoked: map[string]int64{}}
}

// revoke adds a jti to this replica's revoked map (a token-revocation event).
func (g *gatewayInstance) revoke(jti string, expiryMS int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked[jti] = expiryMS
}

// reload replaces the revoked map with the database's list, as a gateway
// does at startup (GET /internal/data/v1/revokedjwt).
func (g *gatewayInstance) reload() {
	g.n.mu.Lock()
	rows := append([]revokedRec(nil), g.n.revokedDB...)
	g.n.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.revoked = map[string]int64{}
	for _, r := range rows {
		g.revoked[r.Sig] = r.Expiry
	}
}

func (g *gatewayInstance) isRevoked(jti string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.revoked[jti]
	return ok
}

// publishRevocation is the event hub: every gateway replica receives the
// token-revocation event, except under revocation-one-replica, where only
// the first replica of each gateway component does.
func (p *Platform) publishRevocation(jti string, expiryMS int64) {
	for _, g := range p.gateways {
		if p.fault(FaultRevocationOneReplica) && g.idx > 0 {
			continue
		}
		g.revoke(jti, expiryMS)
	}
}

// serve is the API traffic listener: /<context>/<version>/<resource>.
func (g *gatewayInstance) serve(w http.ResponseWriter, r *http.Request) {
	n := g.n
	n.mu.Lock()
	var api *apiRec
	var rest string
	for _, a := range n.apis {
		prefix := a.Context + "/" + a.Version
		if a.Live && (r.URL.Path == prefix || strings.HasPrefix(r.URL.Path, prefix+"/")) {
			api, rest = a, strings.TrimPrefix(r.URL.Path, prefix)
		}
	}
	n.mu.Unlock()
	if api == nil {
		gatewayError(w, 404, "404", "Not Found", "The requested resource is not available.")
		return
	}
	tok, ok := bearer(r)
	if (!ok || tok == "") && n.p.fault(FaultGatewayNoAuth) {
		n.proxy(w, r, api, rest)
		return
	}
	if !ok || tok == "" {
		gatewayError(w, 401, "900902", "Missing Credentials", "Invalid Credentials. Make sure your API invocation call has a header: 'Authorization : Bearer ACCESS_TOKEN' or 'Authorization : Basic ACCESS_TOKEN'")
		return
	}
	c, km, err := g.validateJWT(tok)
	if err != nil {
		n.p.logf("gateway %s/%d: token rejected: %v", g.comp, g.idx, err)
		invalidCreds(w)
		return
	}
	appID, tier, subscribed := n.subscription(api, c, km)
	if !subscribed && !n.p.fault(FaultGatewayNoSubscription) {
		gatewayError(w, 403, "900908", "Resource forbidden", "User is NOT authorized to access the Resource. API Subscription validation failed.")
		return
	}
	if appID != "" {
		if ok, next := n.p.tm.allow(appID, tier); !ok {
			// WSO2's application-level throttle-out (APIThrottleConstants
			// APPLICATION_THROTTLE_OUT_ERROR_CODE, _throttle_out_handler_).
			w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(next)/time.Second)+1))
			gatewayError(w, http.StatusTooManyRequests, "900803", "Message throttled out",
				"You have exceeded your quota .You can access API after "+next.UTC().Format("2006-Jan-02 15:04:05+0000 UTC"))
			return
		}
	}
	n.proxy(w, r, api, rest)
}

// validateJWT picks the key manager by iss (the resident KM or a registered
// enabled one), verifies the signature with its keys, and checks time and the
// revoked map. It returns the KM name. Resident-KM tokens need the key
// manager and JWKS Services this replica's deployment.toml names: a replica
// wired to a Service that does not exist cannot get the keys.
func (g *gatewayInstance) validateJWT(tok string) (claims, string, error) {
	n := g.n
	var c claims
	obj, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return c, "", err
	}
	if err := json.Unmarshal(obj.UnsafePayloadWithoutVerification(), &c); err != nil {
		return c, "", err
	}
	var keyFor func(string) *rsa.PublicKey
	kmName := ""
	if c.Iss == n.km.iss {
		kmName = residentKMName
		for _, u := range []string{g.wire.KMServiceURL, g.wire.JWKSURL} {
			if u != "" && !strings.Contains(u, "://localhost:") && !n.p.urlServiceUp(u) {
				return c, "", errors.New("key manager unreachable from this gateway: " + u + ": no such host")
			}
		}
		keyFor = func(kid string) *rsa.PublicKey {
			if kid == n.km.kid {
				return &n.km.key.PublicKey
			}
			return nil
		}
	} else {
		n.mu.Lock()
		var km *kmRec
		for _, k := range n.kms {
			if k.enabled() && k.str("issuer") == c.Iss {
				km = k
			}
		}
		n.mu.Unlock()
		if km == nil {
			return c, "", errors.New("no key manager with issuer " + c.Iss)
		}
		kmName = km.str("name")
		certs, _ := km.Body["certificates"].(map[string]any)
		typ, _ := certs["type"].(string)
		val, _ := certs["value"].(string)
		switch typ {
		case "JWKS":
			keyFor = func(kid string) *rsa.PublicKey { return n.jwksKey(val, kid) }
		case "PEM":
			pub := pemKey(val)
			keyFor = func(string) *rsa.PublicKey { return pub }
		default:
			return c, "", errors.New("key manager " + kmName + " has no certificates")
		}
	}
	if n.p.fault(FaultGatewaySkipsSignature) {
		// The broken gateway trusts the payload as it is: c already holds
		// the unverified claims.
	} else if c, err = verifyWith(tok, keyFor); err != nil {
		return c, "", err
	}
	if time.Now().Unix() >= c.Exp || time.Now().Unix()+60 < c.Nbf {
		return c, "", errors.New("token expired or not yet valid")
	}
	if !n.p.fault(FaultGatewayIgnoresRevocation) && g.isRevoked(c.Jti) {
		return c, "", errors.New("token revoked (jti in this replica's revoked map)")
	}
	return c, kmName, nil
}

// jwksKey returns the key for kid from the JWKS at url, fetching it over
// HTTPS through the platform's Endpoints on a miss.
func (n *apimNode) jwksKey(url, kid string) *rsa.PublicKey {
	n.mu.Lock()
	k, _ := n.jwksCache[url][kid].(*rsa.PublicKey)
	n.mu.Unlock()
	if k != nil {
		return k
	}
	req, err := http.NewRequestWithContext(n.p.ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil
	}
	resp, err := n.p.out.Do(req)
	if err != nil {
		n.p.logf("gateway: JWKS fetch %s failed: %v", url, err)
		return nil
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct{ Kty, Kid, N, E string } `json:"keys"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set) != nil {
		return nil
	}
	m := map[string]any{}
	for _, j := range set.Keys {
		nb, err1 := base64.RawURLEncoding.DecodeString(j.N)
		eb, err2 := base64.RawURLEncoding.DecodeString(j.E)
		if j.Kty != "RSA" || err1 != nil || err2 != nil {
			continue
		}
		m[j.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
	}
	n.mu.Lock()
	n.jwksCache[url] = m
	n.mu.Unlock()
	k, _ = m[kid].(*rsa.PublicKey)
	return k
}

// pemKey reads a KM's PEM certificate value (base64 of the PEM, or PEM).
func pemKey(val string) *rsa.PublicKey {
	raw := []byte(val)
	if dec, err := base64.StdEncoding.DecodeString(val); err == nil {
		raw = dec
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return nil
	}
	if cert, err := x509.ParseCertificate(blk.Bytes); err == nil {
		k, _ := cert.PublicKey.(*rsa.PublicKey)
		return k
	}
	if pk, err := x509.ParsePKIXPublicKey(blk.Bytes); err == nil {
		k, _ := pk.(*rsa.PublicKey)
		return k
	}
	return nil
}

// subscription maps the consumer key claim (azp, else client_id) to an
// application key of that KM and reports the application, its throttling
// tier and whether it subscribes to api.
func (n *apimNode) subscription(api *apiRec, c claims, kmName string) (appID, tier string, ok bool) {
	ck := c.Azp
	if ck == "" {
		ck = c.ClientID
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, app := range n.apps {
		for _, k := range app.Keys {
			if k.ConsumerKey == ck && k.KeyManager == kmName {
				appID, tier = app.ID, app.Tier
				for _, s := range n.subs {
					if s.AppID == app.ID && s.APIID == api.ID && s.Status == "UNBLOCKED" {
						return appID, tier, true
					}
				}
			}
		}
	}
	return appID, tier, false
}

// proxy forwards to the production endpoint through the platform's dialer.
// The Authorization header is dropped, as WSO2 does by default.
func (n *apimNode) proxy(w http.ResponseWriter, r *http.Request, api *apiRec, rest string) {
	target := strings.TrimSuffix(api.Endpoint, "/") + rest
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target, r.Body)
	if err != nil {
		gatewayError(w, 500, "101503", "Error connecting to the back end", "invalid endpoint "+api.Endpoint)
		return
	}
	for k, v := range r.Header {
		if !strings.EqualFold(k, "Authorization") && !strings.EqualFold(k, "Host") {
			req.Header[k] = v
		}
	}
	resp, err := n.p.out.Do(req)
	if err != nil {
		gatewayError(w, 503, "101503", "Error connecting to the back end", "Error connecting to the back end")
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
