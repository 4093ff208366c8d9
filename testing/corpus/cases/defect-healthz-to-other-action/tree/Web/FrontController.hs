module Web.FrontController where

import IHP.RouterPrelude
import Web.Controller.Prelude

-- Controller Imports
import Web.Controller.Health
import Web.Controller.Probes

instance FrontController WebApplication where
    controllers =
        [ parseRoute @ProbesController
        , parseRoute @HealthController
        ]

instance InitControllerContext WebApplication where
    initContext = pure ()
