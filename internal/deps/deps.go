//go:build tools

// Package deps pins the libraries the suite is built on, so that go.mod keeps
// them even while a package that uses them is being written. It is never built.
package deps

import (
	_ "github.com/getkin/kin-openapi/openapi3"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "github.com/pavlo-v-chernykh/keystore-go/v4"
	_ "github.com/testcontainers/testcontainers-go"
	_ "github.com/testcontainers/testcontainers-go/modules/mysql"
	_ "golang.org/x/oauth2"
	_ "helm.sh/helm/v3/pkg/action"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/e2e-framework/pkg/env"
	_ "sigs.k8s.io/kind/pkg/cluster"
	_ "sigs.k8s.io/yaml"
)
