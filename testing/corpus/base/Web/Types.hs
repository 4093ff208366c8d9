module Web.Types where

import IHP.Prelude
import IHP.ModelSupport
import Generated.Types

data WebApplication = WebApplication deriving (Eq, Show)

data HealthController
    = HealthAction
    deriving (Eq, Show, Data)

data ProbesController
    = ProbesAction
    | ShowProbeAction { probeId :: !(Id Probe) }
    deriving (Eq, Show, Data)
