// Command etcd is etcd's server built from the Go module proxy at the version
// kubernetes v1.36.3 uses, for the local test control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
