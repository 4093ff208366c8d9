-- This file is auto generated and will be overriden regulary. Please edit `Application/Schema.sql` to change the Types
-- The models overlay in flake.nix (postUnpack) drops this export list before GHC sees it.
module Generated.ActualTypes (ProbesTable, GetTableName, GetModelByTableName, PrimaryKey) where

import IHP.ModelSupport
import qualified Data.UUID

data ProbesTable

type instance GetTableName ProbesTable = "probes"
type instance PrimaryKey "probes" = Data.UUID.UUID
