// Pattern 2: APIM all-in-one + universal gateway (two replicas).
//
//	go test ./suites/pattern2 -args --platform sim [--fault NAME] [--disruptive]
//	go run ./tools/apimconf run --pattern 2 --platform kind
package pattern2

import (
	"testing"

	"github.com/apim-conformance/apim-conformance/suites/suite"
)

func TestPattern2(t *testing.T) { suite.Run(t, 2) }
