module Web.Controller.ProbeFeed where

import Web.Controller.Prelude
import IHP.WebSocket

-- Pushes a line to the browser each time a probe is recorded (IHP's Guide, websockets).
data ProbeFeedApp = ProbeFeedApp

instance WSApp ProbeFeedApp where
    initialState = ProbeFeedApp

    run = forever do
        message <- receiveData @Text
        sendTextData ("seen: " <> message)
