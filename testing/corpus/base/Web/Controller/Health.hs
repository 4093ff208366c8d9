module Web.Controller.Health where

import Web.Controller.Prelude

instance Controller HealthController where
    -- Liveness only: no database query, so the probe stays green while PostgreSQL restarts.
    action HealthAction = renderPlain "ok"
