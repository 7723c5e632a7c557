package apim

import (
	"context"
	"fmt"
	"net/http"

	"github.com/apim-conformance/apim-conformance/suites/framework/rest"
)

// Internal is the internal data API client (Basic admin).
type Internal struct{ C *rest.Client }

// RevokedJWT is one row of /revokedjwt: jwt_signature holds the revoked jti.
type RevokedJWT struct {
	Signature string `json:"jwt_signature"`
	Expiry    int64  `json:"expiry_time"`
}

// RevokedJWTs lists the revoked JWTs the control plane recorded.
func (i Internal) RevokedJWTs(ctx context.Context) ([]RevokedJWT, error) {
	var out []RevokedJWT
	_, err := i.C.Do(ctx, rest.Request{Method: http.MethodGet, Path: "/revokedjwt", Want: []int{200}}, &out)
	if err != nil {
		return nil, fmt.Errorf("listing revoked JWTs: %w", err)
	}
	return out, nil
}

// Notify posts a key-manager event as a third-party KM does.
func (i Internal) Notify(ctx context.Context, keyManagerHeader string, event any) error {
	_, err := i.C.Do(ctx, rest.Request{Method: http.MethodPost, Path: "/notify", Body: event,
		Header: http.Header{"X-WSO2-KEY-MANAGER": {keyManagerHeader}}, Want: []int{200}}, nil)
	return err
}
