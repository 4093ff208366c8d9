module Web.Controller.Health where

import Web.Controller.Prelude

instance Controller HealthController where
    action HealthAction = renderPlain ("ok" :: LByteString)
