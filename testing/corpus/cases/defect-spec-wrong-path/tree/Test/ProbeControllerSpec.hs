module Test.ProbeControllerSpec where

import Test.Hspec
import Test.Hspec.Wai
import Test.App (testApp)

tests :: Spec
tests = with testApp $
    describe "ProbeController" $
        it "GET /probe answers 200" $
            get "/probe" `shouldRespondWith` 200
