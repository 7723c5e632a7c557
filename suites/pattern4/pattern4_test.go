// Pattern 4: APIM control plane + traffic manager + universal gateway + dedicated key manager.
//
//	go test ./suites/pattern4 -args --platform sim [--fault NAME] [--disruptive]
//	go run ./tools/apimconf run --pattern 4 --platform kind
package pattern4

import (
	"testing"

	"github.com/apim-conformance/apim-conformance/suites/suite"
)

func TestPattern4(t *testing.T) { suite.Run(t, 4) }
