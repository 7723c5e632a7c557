package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

type keyServer struct {
	srv     *httptest.Server
	set     atomic.Value // jose.JSONWebKeySet
	fetches atomic.Int32
}

func newKeyServer(t *testing.T, keys ...jose.JSONWebKey) *keyServer {
	ks := &keyServer{}
	ks.set.Store(jose.JSONWebKeySet{Keys: keys})
	ks.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		json.NewEncoder(w).Encode(ks.set.Load())
	}))
	t.Cleanup(ks.srv.Close)
	return ks
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sign(t *testing.T, key *rsa.PrivateKey, kid string, c Claims) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(iss string, exp time.Time) Claims {
	return Claims{Claims: jwt.Claims{Issuer: iss, Subject: "admin", ID: "jti-1", Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(time.Now())}, AZP: "client-1"}
}

func TestVerifyLikeAGateway(t *testing.T) {
	key, other := rsaKey(t), rsaKey(t)
	pub := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "kid-a_RS256", Algorithm: "RS256", Use: "sig"}
	ks := newKeyServer(t, pub)
	j := &JWKS{HTTP: ks.srv.Client()}
	ctx := context.Background()
	iss := "https://is-identity-server:9443/oauth2/token"

	good := sign(t, key, "kid-a_RS256", claims(iss, time.Now().Add(time.Hour)))
	h, c, err := j.Verify(ctx, ks.srv.URL, good, Expect{Issuer: iss})
	if err != nil || h.KeyID != "kid-a_RS256" || h.Type != "at+jwt" || c.AZP != "client-1" {
		t.Fatalf("valid token: %v %+v %+v", err, h, c)
	}

	cases := map[string]struct {
		token string
		want  string
	}{
		"wrong issuer":      {good, "iss"},
		"expired":           {sign(t, key, "kid-a_RS256", claims(iss, time.Now().Add(-time.Hour))), "expired"},
		"unknown kid":       {sign(t, key, "kid-b_RS256", claims(iss, time.Now().Add(time.Hour))), ErrNoKey.Error()},
		"signed by another": {sign(t, other, "kid-a_RS256", claims(iss, time.Now().Add(time.Hour))), "signature"},
		"not a JWT":         {"abc.def", "not a signed JWT"},
	}
	for name, tc := range cases {
		want := iss
		if name == "wrong issuer" {
			want = "https://localhost:9443/oauth2/token"
		}
		if _, _, err := j.Verify(ctx, ks.srv.URL, tc.token, Expect{Issuer: want}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want error containing %q, got %v", name, tc.want, err)
		}
	}
}

func TestVerifyRefetchesOnceForARotatedKey(t *testing.T) {
	old, rotated := rsaKey(t), rsaKey(t)
	ks := newKeyServer(t, jose.JSONWebKey{Key: &old.PublicKey, KeyID: "old_RS256", Algorithm: "RS256", Use: "sig"})
	j := &JWKS{HTTP: ks.srv.Client()}
	iss := "https://km:9443/oauth2/token"
	ctx := context.Background()
	if _, _, err := j.Verify(ctx, ks.srv.URL, sign(t, old, "old_RS256", claims(iss, time.Now().Add(time.Hour))), Expect{Issuer: iss}); err != nil {
		t.Fatal(err)
	}
	ks.set.Store(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &rotated.PublicKey, KeyID: "new_RS256", Algorithm: "RS256", Use: "sig"}}})
	before := ks.fetches.Load()
	if _, _, err := j.Verify(ctx, ks.srv.URL, sign(t, rotated, "new_RS256", claims(iss, time.Now().Add(time.Hour))), Expect{Issuer: iss}); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if got := ks.fetches.Load() - before; got != 1 {
		t.Errorf("want exactly one refetch for the unknown kid, got %d", got)
	}
	// A kid that is nowhere still fails after one refetch, not a loop.
	_, _, err := j.Verify(ctx, ks.srv.URL, sign(t, rotated, "ghost_RS256", claims(iss, time.Now().Add(time.Hour))), Expect{Issuer: iss})
	if !errors.Is(err, ErrNoKey) {
		t.Errorf("ghost kid: %v", err)
	}
}

func TestAlgMismatchIsNoKey(t *testing.T) {
	key := rsaKey(t)
	ks := newKeyServer(t, jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k", Algorithm: "PS256", Use: "sig"})
	j := &JWKS{HTTP: ks.srv.Client()}
	_, _, err := j.Verify(context.Background(), ks.srv.URL, sign(t, key, "k", claims("i", time.Now().Add(time.Hour))), Expect{Issuer: "i"})
	if !errors.Is(err, ErrNoKey) {
		t.Fatalf("a JWK for another alg must not be used: %v", err)
	}
}
