package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// Algorithms WSO2 key managers sign with.
var Algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256}

// Claims are the access-token claims the checks look at.
type Claims struct {
	jwt.Claims
	AZP      string `json:"azp,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Scope    string `json:"scope,omitempty"`
}

// Header is the part of the JOSE header the checks look at.
type Header struct {
	KeyID     string
	Algorithm string
	Type      string
}

// Inspect parses a JWT without verifying it: used to read claims of a token
// that another step verifies, and to tamper with tokens on purpose.
func Inspect(token string) (Header, Claims, error) {
	t, err := jwt.ParseSigned(token, Algorithms)
	if err != nil {
		return Header{}, Claims{}, fmt.Errorf("not a signed JWT: %w", err)
	}
	var c Claims
	if err := t.UnsafeClaimsWithoutVerification(&c); err != nil {
		return Header{}, Claims{}, fmt.Errorf("JWT claims: %w", err)
	}
	h := t.Headers[0]
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return Header{KeyID: h.KeyID, Algorithm: h.Algorithm, Type: typ}, c, nil
}

// JWKS fetches key sets and caches them per URL, refetching once when a token
// names a kid the cached set lacks (key rotation).
type JWKS struct {
	HTTP *http.Client
	mu   sync.Mutex
	sets map[string]*jose.JSONWebKeySet
}

// Fetch returns the key set at uri, from cache unless refresh.
func (j *JWKS) Fetch(ctx context.Context, uri string, refresh bool) (*jose.JSONWebKeySet, error) {
	j.mu.Lock()
	if s, ok := j.sets[uri]; ok && !refresh {
		j.mu.Unlock()
		return s, nil
	}
	j.mu.Unlock()
	var set jose.JSONWebKeySet
	c := &rest.Client{HTTP: j.HTTP, Base: uri}
	if _, err := c.Do(ctx, rest.Request{Method: http.MethodGet, Want: []int{200}}, &set); err != nil {
		return nil, fmt.Errorf("fetching JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("JWKS at %s has no keys", uri)
	}
	j.mu.Lock()
	if j.sets == nil {
		j.sets = map[string]*jose.JSONWebKeySet{}
	}
	j.sets[uri] = &set
	j.mu.Unlock()
	return &set, nil
}

// ErrNoKey means the JWKS has no key for the token's kid and alg.
var ErrNoKey = errors.New("no key in the JWKS matches the token's kid and alg")

// Expect is what a verified token must satisfy.
type Expect struct {
	Issuer string    // required
	Now    time.Time // zero: time.Now
}

// Verify checks a JWT the way a gateway does: select the JWK whose kid (and
// alg, when the JWK states one) match the header, verify the signature, then
// iss, exp and nbf. It never recomputes kids.
func (j *JWKS) Verify(ctx context.Context, jwksURI, token string, exp Expect) (Header, Claims, error) {
	t, err := jwt.ParseSigned(token, Algorithms)
	if err != nil {
		return Header{}, Claims{}, fmt.Errorf("not a signed JWT: %w", err)
	}
	h := t.Headers[0]
	hdr := Header{KeyID: h.KeyID, Algorithm: h.Algorithm}
	hdr.Type, _ = h.ExtraHeaders[jose.HeaderType].(string)
	if h.KeyID == "" {
		return hdr, Claims{}, errors.New("JWT header has no kid")
	}
	key, err := j.key(ctx, jwksURI, h.KeyID, h.Algorithm)
	if err != nil {
		return hdr, Claims{}, err
	}
	var c Claims
	if err := t.Claims(key.Key, &c); err != nil {
		return hdr, Claims{}, fmt.Errorf("signature does not verify with JWKS key %q: %w", h.KeyID, err)
	}
	now := exp.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Issuer: exp.Issuer, Time: now}, 30*time.Second); err != nil {
		return hdr, c, fmt.Errorf("claims: %w (iss %q, want %q)", err, c.Issuer, exp.Issuer)
	}
	if c.Expiry == nil {
		return hdr, c, errors.New("token has no exp claim")
	}
	return hdr, c, nil
}

func (j *JWKS) key(ctx context.Context, uri, kid, alg string) (*jose.JSONWebKey, error) {
	for attempt := 0; attempt < 2; attempt++ {
		set, err := j.Fetch(ctx, uri, attempt > 0)
		if err != nil {
			return nil, err
		}
		for i := range set.Key(kid) {
			k := set.Key(kid)[i]
			if k.Algorithm == "" || k.Algorithm == alg {
				return &k, nil
			}
		}
	}
	return nil, fmt.Errorf("%w (kid %q, alg %s, JWKS %s)", ErrNoKey, kid, alg, uri)
}
