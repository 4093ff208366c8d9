module Web.Controller.Health where

import Web.Controller.Prelude
import Network.HTTP.Types (status200, hContentType)
import Network.Wai (responseLBS)

instance Controller HealthController where
    action HealthAction =
        respondAndExit $ responseLBS status200 [(hContentType, "text/plain")] "ok"
