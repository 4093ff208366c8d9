module Web.Controller.Health where

import Web.Controller.Prelude

instance Controller HealthController where
    -- No database access: the probe says the process serves requests.
    action HealthAction = renderPlain "ok"
