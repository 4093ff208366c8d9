module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

-- The health check is routed by hand: IHP's AutoRoute would serve it at /Health.
instance CanRoute HealthController where
    parseRoute' = string "/healthz" >> endOfInput >> pure HealthAction

instance HasPath HealthController where
    pathTo HealthAction = "/healthz"

instance AutoRoute ProbesController where
    customRoutes = do
        string "/probes"
        endOfInput
        onlyAllowMethods [GET, HEAD]
        pure ProbesAction
    customPathTo ProbesAction = Just "/probes"
    customPathTo _ = Nothing
