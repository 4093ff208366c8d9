# Stand-in for github:digitallyinduced/ihp (the lab has no network and no binary cache:
# IHP, GHC and nixpkgs cannot be fetched or built here). It has the inputs an app's
# flake follows (nixpkgs, flake-parts, devenv, systems; stand-ins too, under inputs/) and
# `flakeModules.default`, the flake-parts module an IHP app imports (flake-module.nix).
{
  description = "stand-in for digitallyinduced/ihp's flake (pytest-irp lab, offline)";

  inputs = {
    nixpkgs.url = "path:./inputs/nixpkgs";
    flake-parts.url = "path:./inputs/flake-parts";
    devenv.url = "path:./inputs/devenv";
    systems.url = "path:./inputs/systems";
  };

  outputs = inputs: {
    flakeModules.default = import ./flake-module.nix { inherit inputs; };
  };
}
