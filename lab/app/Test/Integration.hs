module Main where

import Test.Hspec
import IHP.Prelude

import Test.Controller.ProbesSpec

main :: IO ()
main = hspec do
    Test.Controller.ProbesSpec.tests
