module Config where

import IHP.Prelude
import IHP.Environment
import IHP.FrameworkConfig

config :: ConfigBuilder
config = do
    -- See https://ihp.digitallyinduced.com/Guide/config.html
    -- IHP_ENV (Production in the image, Development in devenv) sets the environment;
    -- IHP_BASEURL and DATABASE_URL come from the deployment's Secret.
    pure ()
