module Main where

import Test.Hspec
import IHP.Prelude

import Test.ProbeControllerSpec

main :: IO ()
main = hspec do
    Test.ProbeControllerSpec.tests
