package platform

import (
	"context"
	"fmt"
	"io"

	"github.com/apim-conformance/apim-conformance/suites/framework"
)

// upCluster deploys (kind) or connects to (existing) a real platform.
func upCluster(ctx context.Context, cfg framework.Config, log io.Writer) (*Platform, error) {
	if cfg.Platform == framework.PlatformExisting && cfg.Endpoints != nil {
		return existingEndpoints(cfg)
	}
	return nil, fmt.Errorf("platform %s is not wired into the suites yet; use --platform sim (make demo)", cfg.Platform)
}
