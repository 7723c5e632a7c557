// Pattern 6: APIM all-in-one with WSO2 Identity Server 7 as the key manager.
//
//	go test ./suites/pattern6 -args --platform sim [--fault NAME]
//	go run ./tools/apimconf run --pattern 6 --platform kind
package pattern6

import (
	"testing"

	"github.com/apim-conformance/apim-conformance/suites/suite"
)

func TestPattern6(t *testing.T) { suite.Run(t, 6) }
