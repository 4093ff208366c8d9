module Application.Helper.Controller where

import IHP.ControllerPrelude
