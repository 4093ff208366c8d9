module Web.Types where

import IHP.Prelude
import IHP.ModelSupport
import Generated.Types

data WebApplication = WebApplication deriving (Eq, Show)

data StaticController
    = WelcomeAction
    deriving (Eq, Show, Data)

data HealthController
    = HealthAction
    deriving (Eq, Show, Data)

data ProbesController
    = ProbesAction
    deriving (Eq, Show, Data)
