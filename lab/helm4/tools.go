//go:build tools

// Package tools pins helm 4.0.5 for the lab's self-tests: lab/build-helm.sh builds
// helm.sh/helm/v4/cmd/helm from this module, so go.sum (committed) verifies every module.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
