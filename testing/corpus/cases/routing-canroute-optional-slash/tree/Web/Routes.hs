module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

-- Both /healthz and /healthz/ (some load balancers append the slash); the old
-- /status path is kept for monitors configured before the rename.
instance CanRoute HealthController where
    parseRoute' =
            (string "/status" <* optional "/" <* endOfInput >> pure HealthAction)
        <|> (string "/healthz" <* optional "/" <* endOfInput >> pure HealthAction)

instance HasPath HealthController where
    pathTo HealthAction = "/healthz"

instance AutoRoute ProbesController where
    customRoutes = do
        string "/probes"
        optional (char '/')
        endOfInput
        onlyAllowMethods [GET, HEAD]
        pure ProbesAction
    customPathTo ProbesAction = Just "/probes"
    customPathTo _ = Nothing
