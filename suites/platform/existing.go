package platform

import (
	"context"
	"fmt"
	"os"

	"github.com/apim-conformance/apim-conformance/suites/conformance"
	"github.com/apim-conformance/apim-conformance/suites/framework"
)

// existingEndpoints checks a platform someone already deployed, reached
// through the endpoints and CA file in the config.
func existingEndpoints(cfg framework.Config) (*Platform, error) {
	ep := *cfg.Endpoints
	if cfg.CAFile == "" {
		return nil, fmt.Errorf("endpoints are given but caFile is not: point caFile at the PEM of the certificates the platform serves")
	}
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading caFile: %w", err)
	}
	ep.CAPEM = pem
	var caps []conformance.Capability
	caps = append(caps, conformance.ResidentKM)
	if ep.IdentityServer != "" {
		caps = append(caps, conformance.IS7KM)
	}
	return &Platform{
		Endpoints: ep, Capabilities: caps,
		Info:     map[string]string{"mode": "existing endpoints", "pattern": fmt.Sprint(cfg.Pattern)},
		Diagnose: func(context.Context, string) error { return nil },
		Close:    func(context.Context) error { return nil },
	}, nil
}
