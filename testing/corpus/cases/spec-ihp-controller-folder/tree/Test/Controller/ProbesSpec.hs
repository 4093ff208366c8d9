module Test.Controller.ProbesSpec where

import Network.HTTP.Types.Status

import IHP.Prelude
import IHP.Hspec
import Test.Hspec
import Config
import Web.Types
import Web.Routes ()

tests :: Spec
tests = aroundAll (withIHPApp WebApplication config) do
    describe "ProbeController" do
        it "lists the probes" $ withContext do
            response <- callAction $ ProbesAction
            response `responseStatusShouldBe` status200
            response `responseBodyShouldContain` "["
