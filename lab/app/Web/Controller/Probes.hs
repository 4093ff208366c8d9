module Web.Controller.Probes where

import Web.Controller.Prelude

instance Controller ProbesController where
    action ProbesAction = do
        probes <- query @Probe
            |> orderByDesc #createdAt
            |> fetch
        renderJson (map (.name) probes)
