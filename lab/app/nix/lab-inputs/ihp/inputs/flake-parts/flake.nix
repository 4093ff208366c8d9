# Stand-in for github:hercules-ci/flake-parts (the lab has no network). The real
# `lib.mkFlake` evaluates flake-parts modules with the NixOS module system (typed options,
# priorities, mkIf ...). This one is a tiny evaluator of just what an IHP app's flake uses:
#
#   flake-parts.lib.mkFlake { inherit inputs; } {
#     systems = [ ... ];  imports = [ module ... ];  perSystem = { config, pkgs, ... }: { };
#     flake = { ... };
#   }
#
# Modules are attribute sets or functions of { inputs, self, lib, config, flake-parts-lib,
# withSystem, ... }; `imports` are followed. Every `perSystem` function is called with
# { config, pkgs, system, lib, inputs', self' } where `config` is the merge of all of them
# (a fixed point: attribute sets merge recursively, lists concatenate, anything else: the
# last one wins). Of a perSystem config, packages, checks, apps and devShells
# become flake outputs per system; `flake` is merged into the outputs as it is.
{
  description = "stand-in for hercules-ci/flake-parts (pytest-irp lab, offline)";
  outputs = _: {
    lib.mkFlake = import ./mk-flake.nix;
  };
}
