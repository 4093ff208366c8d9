//go:build tools

// Package tools pins the Gitea command this wrapper module builds.
package tools

import (
	_ "code.gitea.io/gitea"
)
