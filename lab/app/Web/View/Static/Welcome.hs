module Web.View.Static.Welcome where

import Web.View.Prelude

data WelcomeView = WelcomeView

instance View WelcomeView where
    html WelcomeView = [hsx|
        <h1>ihp-railiance-probe</h1>
        <p>Probes: <a href={ProbesAction}>/probes</a>, health: <a href={HealthAction}>/healthz</a></p>
    |]
