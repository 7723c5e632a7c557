package testenvreq

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// Docker returns a client to a Docker engine that answers a ping (from
// DOCKER_HOST, as testenv exports it), closed when the test ends. Without
// one the test skips, or fails under REQUIRE_TESTENV=1.
func Docker(t testing.TB) *client.Client {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	Require(t, "dockerd (DOCKER_HOST)", err)
	t.Cleanup(func() { cli.Close() })
	return cli
}
