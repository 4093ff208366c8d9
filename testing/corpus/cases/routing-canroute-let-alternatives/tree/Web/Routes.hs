module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

instance CanRoute HealthController where
    parseRoute' = do
        let healthz = do
                string "/healthz"
                optionalSlash
                endOfInput
                onlyAllowMethods [GET, HEAD]
                pure HealthAction
            legacy = string "/health/" *> endOfInput *> pure HealthAction
        legacy <|> healthz
      where optionalSlash = pure ()

instance HasPath HealthController where
    pathTo HealthAction = "/healthz"

instance CanRoute ProbesController where
    parseRoute' = (string "/probes" <* endOfInput) *> pure ProbesAction

instance HasPath ProbesController where
    pathTo ProbesAction = "/probes"
    pathTo ShowProbeAction { probeId } = "/probes/" <> tshow probeId
