{-# LANGUAGE QuasiQuotes #-}
module Web.Routes where

import IHP.RouterPrelude
import Generated.Types
import Web.Types

[routes|webRoutes
GET /healthz HealthAction
|]

-- An older hand-written route that also answers the old health path.
instance AutoRoute ProbesController where
    customRoutes = (string "/probes" <|> string "/healthz") >> endOfInput >> pure ProbesAction
    customPathTo ProbesAction = Just "/probes"
    customPathTo _ = Nothing
