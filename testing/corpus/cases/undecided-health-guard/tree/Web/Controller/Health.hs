module Web.Controller.Health where

import Web.Controller.Prelude

instance Controller HealthController where
    beforeAction = case ?theAction of
        HealthAction -> pure ()
        _ -> ensureIsUser

    action HealthAction = renderPlain "ok"
