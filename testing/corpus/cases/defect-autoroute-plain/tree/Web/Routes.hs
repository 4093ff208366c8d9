module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

instance AutoRoute HealthController

instance AutoRoute ProbesController where
    customRoutes = string "/probes" >> endOfInput >> pure ProbesAction
