// Pattern 0: APIM all-in-one alone (resident key manager, embedded traffic manager).
//
//	go test ./suites/pattern0 -args --platform sim [--fault NAME] [--disruptive]
//	go run ./tools/apimconf run --pattern 0 --platform kind
package pattern0

import (
	"testing"

	"github.com/apim-conformance/apim-conformance/suites/suite"
)

func TestPattern0(t *testing.T) { suite.Run(t, 0) }
