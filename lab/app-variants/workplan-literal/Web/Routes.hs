module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

-- Generator Marker
instance AutoRoute StaticController

instance CanRoute HealthController where
    parseRoute' = do
        pathPrefix "/healthz"
        pure HealthAction

instance HasPath HealthController where
    pathTo HealthAction = "/healthz"

instance CanRoute ProbesController where
    parseRoute' = do
        pathPrefix "/probes"
        pure ProbesAction

instance HasPath ProbesController where
    pathTo ProbesAction = "/probes"
