module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

instance CanRoute HealthController where
    parseRoute' = do
        pathPrefix "/healthz"
        pure HealthAction

instance CanRoute ProbesController where
    parseRoute' = do
        pathPrefix "/probes"
        pure ProbesAction
