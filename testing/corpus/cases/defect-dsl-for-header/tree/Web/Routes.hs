{-# LANGUAGE QuasiQuotes #-}
module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

[routes|for WebApplication
GET  /healthz            HealthAction
GET  /probes             ProbesAction
GET  /probes/{probeId}   ShowProbeAction
|]
