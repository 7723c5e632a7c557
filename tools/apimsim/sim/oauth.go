package sim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySet holds the RSA keys of one process. RSA generation dominates Start
// otherwise, so keys are made once per process; every Platform still gets its
// own kids (salted), so a token of one platform never matches another's JWKS.
type keySet struct{ apim, is, wrong *rsa.PrivateKey }

var (
	keysOnce sync.Once
	keysVal  keySet
	keysErr  error
)

func signingKeys() (keySet, error) {
	keysOnce.Do(func() {
		var wg sync.WaitGroup
		ks := make([]*rsa.PrivateKey, 3)
		errs := make([]error, 3)
		for i := range ks {
			wg.Add(1)
			go func() { defer wg.Done(); ks[i], errs[i] = rsa.GenerateKey(rand.Reader, 2048) }()
		}
		wg.Wait()
		keysErr = errors.Join(errs...)
		keysVal = keySet{apim: ks[0], is: ks[1], wrong: ks[2]}
	})
	return keysVal, keysErr
}

// claims of the access tokens both key managers issue (facts §5.4).
type claims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Azp      string `json:"azp"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Jti      string `json:"jti"`
	Iat      int64  `json:"iat"`
	Nbf      int64  `json:"nbf"`
	Exp      int64  `json:"exp"`
}

type oauthClient struct {
	ID, Secret, Name, Owner, Callback string
	Grants                            []string
	TokenType                         string
	AppUUID                           string
}

type refreshGrant struct {
	clientID, user, scope string
	exp                   time.Time
}

// issuer is an OAuth2 authorisation server: the resident KM of APIM or IS 7.
// Both expose the same endpoints under /oauth2.
type issuer struct {
	p         *Platform
	base      string // https://host:port
	iss       string // discovery issuer
	signIss   string // iss written into tokens (differs under token-wrong-issuer)
	key       *rsa.PrivateKey
	jwksKey   *rsa.PublicKey // key served on /oauth2/jwks (differs under jwks-wrong-key)
	kid       string
	regPath   string // registration endpoint path for discovery
	userinfo  string // userinfo path for discovery
	onRevoke  func(c claims, user string)
	validity  time.Duration
	subOfUser func(user string) string

	mu      sync.Mutex
	clients map[string]*oauthClient
	refresh map[string]*refreshGrant
	revoked map[string]int64 // jti -> exp
	users   map[string]string
}

func newIssuer(p *Platform, base string, key *rsa.PrivateKey) *issuer {
	salt := make([]byte, 16)
	rand.Read(salt)
	h := sha256.Sum256(append(salt, key.N.Bytes()...))
	return &issuer{
		p: p, base: base, iss: base + "/oauth2/token", key: key, jwksKey: &key.PublicKey,
		kid:      base64.RawURLEncoding.EncodeToString(h[:20]) + "_RS256",
		validity: time.Hour,
		clients:  map[string]*oauthClient{}, refresh: map[string]*refreshGrant{}, revoked: map[string]int64{},
		subOfUser: func(u string) string { return u },
	}
}

func randID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (is *issuer) addClient(c *oauthClient) *oauthClient {
	is.mu.Lock()
	defer is.mu.Unlock()
	if c.ID == "" {
		c.ID = randID(21)
	}
	if c.Secret == "" {
		c.Secret = randID(21)
	}
	is.clients[c.ID] = c
	return c
}

func (is *issuer) clientByName(name string) *oauthClient {
	is.mu.Lock()
	defer is.mu.Unlock()
	for _, c := range is.clients {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (is *issuer) client(id string) *oauthClient {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.clients[id]
}

func (is *issuer) mint(cl *oauthClient, user, scope string) (string, claims, error) {
	now := time.Now()
	sub := cl.ID
	if user != "" {
		sub = is.subOfUser(user)
	}
	c := claims{Iss: is.signIss, Sub: sub, Aud: cl.ID, Azp: cl.ID, ClientID: cl.ID, Scope: scope, Jti: newUUID(),
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(is.validity).Unix()}
	if c.Iss == "" {
		c.Iss = is.iss
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: is.key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", is.kid))
	if err != nil {
		return "", c, err
	}
	payload, _ := json.Marshal(c)
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", c, err
	}
	tok, err := obj.CompactSerialize()
	return tok, c, err
}

// verifyWith checks a compact JWS against key and returns its claims. Expiry
// is checked by the caller, so it can tell expired from invalid.
func verifyWith(tok string, keyFor func(kid string) *rsa.PublicKey) (claims, error) {
	var c claims
	obj, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return c, err
	}
	if len(obj.Signatures) != 1 {
		return c, errors.New("expected one signature")
	}
	k := keyFor(obj.Signatures[0].Header.KeyID)
	if k == nil {
		return c, errors.New("unknown kid")
	}
	payload, err := obj.Verify(k)
	if err != nil {
		return c, err
	}
	err = json.Unmarshal(payload, &c)
	return c, err
}

// verify validates a token of this issuer: signature, issuer, time, revocation.
func (is *issuer) verify(tok string) (claims, error) {
	c, err := verifyWith(tok, func(kid string) *rsa.PublicKey {
		if kid == is.kid {
			return &is.key.PublicKey
		}
		return nil
	})
	if err != nil {
		return c, err
	}
	if time.Now().Unix() >= c.Exp {
		return c, errors.New("token expired")
	}
	is.mu.Lock()
	_, rev := is.revoked[c.Jti]
	is.mu.Unlock()
	if rev {
		return c, errors.New("token revoked")
	}
	return c, nil
}

func (is *issuer) register(mux *http.ServeMux, prefix string) {
	mux.HandleFunc("POST "+prefix+"/oauth2/token", is.token)
	mux.HandleFunc("POST "+prefix+"/oauth2/revoke", is.revoke)
	mux.HandleFunc("POST "+prefix+"/oauth2/introspect", is.introspect)
	mux.HandleFunc("GET "+prefix+"/oauth2/jwks", is.jwks)
	mux.HandleFunc("GET "+prefix+"/oauth2/token/.well-known/openid-configuration", is.discovery)
	mux.HandleFunc("GET "+prefix+"/oauth2/oidcdiscovery/.well-known/openid-configuration", is.discovery)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// params reads OAuth2 parameters from a form body or, as WSO2 also accepts
// (facts §1.2), a JSON object body.
func params(r *http.Request) (url.Values, error) {
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, err
		}
		v := url.Values{}
		for k, x := range m {
			switch t := x.(type) {
			case string:
				v.Set(k, t)
			case []any:
				var parts []string
				for _, e := range t {
					parts = append(parts, fmt.Sprint(e))
				}
				v.Set(k, strings.Join(parts, " "))
			default:
				v.Set(k, fmt.Sprint(t))
			}
		}
		return v, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

// clientAuth authenticates the client by Basic header or client_secret_post.
func (is *issuer) clientAuth(r *http.Request, v url.Values) (*oauthClient, bool) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = v.Get("client_id"), v.Get("client_secret")
	}
	if id == "" {
		return nil, false
	}
	c := is.client(id)
	if c == nil || c.Secret != secret {
		return nil, false
	}
	return c, true
}

func (is *issuer) token(w http.ResponseWriter, r *http.Request) {
	v, err := params(r)
	if err != nil {
		oauthError(w, 400, "invalid_request", "cannot read the request body")
		return
	}
	cl, ok := is.clientAuth(r, v)
	if !ok {
		oauthError(w, 401, "invalid_client", "Client Authentication failed.")
		return
	}
	scope := strings.Join(strings.Fields(v.Get("scope")), " ")
	if scope == "" {
		scope = "default"
	}
	var user string
	switch gt := v.Get("grant_type"); gt {
	case "password":
		if v.Get("username") != is.p.opts.AdminUser || v.Get("password") != is.p.opts.AdminPassword {
			oauthError(w, 400, "invalid_grant", "Authentication failed for "+v.Get("username"))
			return
		}
		user = v.Get("username")
	case "client_credentials":
	case "refresh_token":
		is.mu.Lock()
		g := is.refresh[v.Get("refresh_token")]
		if g != nil && g.clientID == cl.ID && time.Now().Before(g.exp) {
			delete(is.refresh, v.Get("refresh_token"))
		} else {
			g = nil
		}
		is.mu.Unlock()
		if g == nil {
			oauthError(w, 400, "invalid_grant", "Persisted access token data not found")
			return
		}
		user = g.user
		if v.Get("scope") == "" {
			scope = g.scope
		}
	case "":
		oauthError(w, 400, "invalid_request", "Missing grant_type parameter value")
		return
	default:
		oauthError(w, 400, "unsupported_grant_type", "Unsupported grant_type value: "+gt)
		return
	}
	tok, c, err := is.mint(cl, user, scope)
	if err != nil {
		oauthError(w, 500, "server_error", "token signing failed")
		return
	}
	resp := map[string]any{"access_token": tok, "scope": scope, "token_type": "Bearer", "expires_in": int(is.validity / time.Second)}
	if user != "" {
		rt := newUUID()
		is.mu.Lock()
		is.refresh[rt] = &refreshGrant{clientID: cl.ID, user: user, scope: scope, exp: time.Now().Add(24 * time.Hour)}
		is.mu.Unlock()
		resp["refresh_token"] = rt
	}
	_ = c
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, 200, resp)
}

// revoke implements RFC 7009: the client must authenticate; the answer is
// 200 with an empty body whatever the token (unknown, expired, revoked).
func (is *issuer) revoke(w http.ResponseWriter, r *http.Request) {
	v, err := params(r)
	if err != nil {
		oauthError(w, 400, "invalid_request", "cannot read the request body")
		return
	}
	cl, ok := is.clientAuth(r, v)
	if !ok {
		oauthError(w, 401, "invalid_client", "Client Authentication failed.")
		return
	}
	tok := v.Get("token")
	is.mu.Lock()
	if g := is.refresh[tok]; g != nil && g.clientID == cl.ID {
		delete(is.refresh, tok)
	}
	is.mu.Unlock()
	if c, err := is.verify(tok); err == nil && c.ClientID == cl.ID {
		is.mu.Lock()
		is.revoked[c.Jti] = c.Exp
		is.mu.Unlock()
		user := c.Sub
		if is.onRevoke != nil {
			is.onRevoke(c, user)
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (is *issuer) introspect(w http.ResponseWriter, r *http.Request) {
	if _, ok := is.p.basicAdmin(r); !ok {
		oauthError(w, 401, "invalid_client", "Basic admin authentication is required")
		return
	}
	v, err := params(r)
	if err != nil {
		oauthError(w, 400, "invalid_request", "cannot read the request body")
		return
	}
	c, err := is.verify(v.Get("token"))
	if err != nil {
		writeJSON(w, 200, map[string]any{"active": false})
		return
	}
	writeJSON(w, 200, map[string]any{"active": true, "scope": c.Scope, "client_id": c.ClientID, "username": c.Sub, "sub": c.Sub,
		"exp": c.Exp, "iat": c.Iat, "nbf": c.Nbf, "jti": c.Jti, "iss": c.Iss, "aud": c.Aud, "token_type": "Bearer"})
}

func jwkOf(pub *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "RSA", "use": "sig", "kid": kid, "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

func (is *issuer) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, 200, map[string]any{"keys": []any{jwkOf(is.jwksKey, is.kid)}})
}

func (is *issuer) discovery(w http.ResponseWriter, r *http.Request) {
	b := is.base
	writeJSON(w, 200, map[string]any{
		"issuer":                                is.iss,
		"token_endpoint":                        b + "/oauth2/token",
		"jwks_uri":                              b + "/oauth2/jwks",
		"revocation_endpoint":                   b + "/oauth2/revoke",
		"introspection_endpoint":                b + "/oauth2/introspect",
		"authorization_endpoint":                b + "/oauth2/authorize",
		"registration_endpoint":                 b + is.regPath,
		"userinfo_endpoint":                     b + is.userinfo,
		"end_session_endpoint":                  b + "/oidc/logout",
		"grant_types_supported":                 []string{"password", "client_credentials", "refresh_token", "authorization_code"},
		"response_types_supported":              []string{"code", "token", "id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
