module Test.ProbeControllerSpec where

import IHP.Prelude
import IHP.Hspec
import Test.Hspec
import Web.Types

tests :: Spec
tests = aroundAll (withIHPApp WebApplication config) do
    describe "ProbeController" do
        it "has a health route" $ withContext do
            response <- callAction HealthAction
            response `responseStatusShouldBe` status200
        -- it "GET /probes answers 200" $ withContext do
        --     response <- callAction ProbesAction
        --     response `responseStatusShouldBe` status200
