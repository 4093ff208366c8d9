module Web.Controller.Health where

import Web.Controller.Prelude

instance Controller HealthController where
    beforeAction = ensureIsUser

    action HealthAction = renderPlain "ok"
