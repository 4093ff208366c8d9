module Main where

import Test.Hspec
import IHP.Prelude

import qualified Test.ProbeControllerSpec

main :: IO ()
main = hspec do
    Test.ProbeControllerSpec.spec
