module Web.FrontController where

import IHP.RouterPrelude
import Web.Controller.Prelude
import Web.Routes

import Web.Controller.Health
import Web.Controller.Probes

instance FrontController WebApplication where
    controllers = [ parseRoute @ProbesController ] <> webRoutes

instance InitControllerContext WebApplication where
    initContext = pure ()
