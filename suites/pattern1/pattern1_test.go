// Pattern 1: APIM all-in-one HA: two all-in-one replicas behind one Service.
//
//	go test ./suites/pattern1 -args --platform sim [--fault NAME] [--disruptive]
//	go run ./tools/apimconf run --pattern 1 --platform kind
package pattern1

import (
	"testing"

	"github.com/apim-conformance/apim-conformance/suites/suite"
)

func TestPattern1(t *testing.T) { suite.Run(t, 1) }
