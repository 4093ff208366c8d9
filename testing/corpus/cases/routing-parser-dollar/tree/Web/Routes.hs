module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

instance CanRoute HealthController where
    parseRoute' = string "/healthz" >> endOfInput >> pure HealthAction

instance HasPath HealthController where
    pathTo HealthAction = "/healthz"

instance CanRoute ProbesController where
    parseRoute' = do
        string $ encodeUtf8 (probesPath <> "")
        choice
            [ endOfInput >> (pure $ ProbesAction)
            , string "/" *> (ShowProbeAction <$> parseId)
            ]
      where
        probesPath = "/probes"

instance HasPath ProbesController where
    pathTo ProbesAction = "/probes"
    pathTo ShowProbeAction { probeId } = "/probes/" <> tshow probeId
