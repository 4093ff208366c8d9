{-# LANGUAGE QuasiQuotes #-}
module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

-- IHP 1.6: a lowercase header names the binding the splice defines (webRoutes =
-- [parseRoute @C | each controller of the block]), used in FrontController.
[routes|webRoutes
GET  /probes             ProbesAction
-- Kubernetes' liveness probe sits between another controller's routes
GET  /healthz            HealthAction
GET  /probes/{probeId}   ShowProbeAction
|]
