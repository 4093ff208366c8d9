module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

instance AutoRoute HealthController where
    customRoutes = HealthAction <$ (string "/healthz" <* endOfInput)
    customPathTo HealthAction = Just "/healthz"

instance AutoRoute ProbesController where
    customRoutes = string "/probes" >> endOfInput >> pure ProbesAction
    customPathTo ProbesAction = Just "/probes"
    customPathTo _ = Nothing
