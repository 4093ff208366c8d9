module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

instance CanRoute HealthController where
    parseRoute' = (string "/health" <|> string "/healthz") >> pure HealthAction

instance HasPath HealthController where
    pathTo HealthAction = "/healthz"

instance AutoRoute ProbesController where
    customRoutes = string "/probes" >> endOfInput >> pure ProbesAction
