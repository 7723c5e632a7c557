package selftest

import (
	"encoding/pem"
	"net/http/httptest"
	"testing"
)

func httptestTLSCert(t *testing.T) []byte {
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
