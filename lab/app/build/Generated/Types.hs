-- This file is auto generated and will be overriden regulary. Please edit `Application/Schema.sql` to change the Types
module Generated.Types (module Generated.Types, module Generated.ActualTypes) where

import IHP.HaskellSupport
import IHP.ModelSupport
import CorePrelude hiding (id)
import Data.Time.Clock
import qualified Data.UUID
import Generated.ActualTypes

-- | Generated from the `probes` table in Application/Schema.sql
data Probe' = Probe
    { id :: (Id' "probes")
    , name :: Text
    , createdAt :: UTCTime
    , meta :: MetaBag
    } deriving (Eq, Show)

type Probe = Probe'
