module Web.Controller.Health where

import Web.Controller.Prelude

instance Controller HealthController where
    beforeAction = do
        setLayout defaultLayout
        staffOnly

    action HealthAction = renderPlain "ok"

staffOnly = do
    ensureIsAdmin @Admin
    pure ()
