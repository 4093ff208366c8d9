{-# LANGUAGE QuasiQuotes #-}
module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

[routes|HealthController
-- Kubernetes' liveness probe
GET /healthz HealthAction
|]

[routes|ProbesController
GET|HEAD /probes              ProbesAction
GET      /probes/{probeId}    ShowProbeAction
|]
