{-# LANGUAGE QuasiQuotes #-}
module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

-- Generator Marker
instance AutoRoute StaticController

-- Liveness/readiness probe of the Kubernetes deployment: GET /healthz answers plain "ok".
[routes|HealthController
GET /healthz HealthAction
|]

[routes|ProbesController
GET /probes ProbesAction
|]
