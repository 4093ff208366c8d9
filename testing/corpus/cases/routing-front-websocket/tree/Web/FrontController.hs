module Web.FrontController where

import IHP.RouterPrelude
import Web.Controller.Prelude

import Web.Controller.Health
import Web.Controller.Probes
import Web.Controller.ProbeFeed ()

instance FrontController WebApplication where
    controllers =
        [ webSocketApp @ProbeFeedApp
        , webSocketAppWithCustomPath @ProbeFeedApp "live/probes"
        , parseRoute @HealthController
        , parseRoute @ProbesController
        ]

instance InitControllerContext WebApplication where
    initContext = pure ()
