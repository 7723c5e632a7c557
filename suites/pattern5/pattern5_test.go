// Pattern 5: APIM all-in-one + universal gateway + dedicated key manager.
//
//	go test ./suites/pattern5 -args --platform sim [--fault NAME] [--disruptive]
//	go run ./tools/apimconf run --pattern 5 --platform kind
package pattern5

import (
	"testing"

	"github.com/apim-conformance/apim-conformance/suites/suite"
)

func TestPattern5(t *testing.T) { suite.Run(t, 5) }
