// Pattern 3: APIM control plane + traffic manager + universal gateway.
//
//	go test ./suites/pattern3 -args --platform sim [--fault NAME] [--disruptive]
//	go run ./tools/apimconf run --pattern 3 --platform kind
package pattern3

import (
	"testing"

	"github.com/apim-conformance/apim-conformance/suites/suite"
)

func TestPattern3(t *testing.T) { suite.Run(t, 3) }
