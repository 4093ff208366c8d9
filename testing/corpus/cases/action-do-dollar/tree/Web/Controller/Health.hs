module Web.Controller.Health where

import Web.Controller.Prelude

instance Controller HealthController where
    action HealthAction = do
        setHeader ("Cache-Control", "no-store")
        renderPlain $ "ok"
