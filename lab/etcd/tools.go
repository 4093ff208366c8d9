//go:build tools

// This file pins etcdctl so that go mod tidy keeps its requirement.
package main

import _ "go.etcd.io/etcd/etcdctl/v3"
