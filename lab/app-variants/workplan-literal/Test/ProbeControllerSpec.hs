module Test.ProbeControllerSpec where

import Test.Hspec
import IHP.HSpec

spec :: Spec
spec = describe "ProbeController" $ do
    it "GET /probes returns 200" $ do
        response <- get "/probes"
        response `shouldRespondWith` 200
