module Web.Controller.Probes where

import Web.Controller.Prelude

instance Controller ProbesController where
    action ProbesAction = do
        probes <- query @Probe |> orderByDesc #createdAt |> fetch
        renderJson (map (get #name) probes)

    action ShowProbeAction { probeId } = do
        probe <- fetch probeId
        renderJson (get #name probe)
