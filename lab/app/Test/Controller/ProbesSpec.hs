module Test.Controller.ProbesSpec where

import Network.HTTP.Types.Status

import IHP.Prelude
import IHP.Test.Mocking
import IHP.Hspec
import Test.Hspec

import Web.Routes
import Web.Types
import Web.Controller.Probes ()
import Web.FrontController ()
import Config

tests :: Spec
tests = aroundAll (withIHPApp WebApplication config) do
    describe "ProbeController" do
        it "GET /probes returns 200" $ withContext do
            response <- callAction ProbesAction
            response `responseStatusShouldBe` status200
