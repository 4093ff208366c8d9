# Stand-in for github:NixOS/nixpkgs (the lab has no network and no binary cache, and
# nothing of nixpkgs could be built offline). The app's `packages = with pkgs; [ ]` needs a
# package set, and flake-parts takes `pkgs` from `legacyPackages.<system>`: an empty one.
# `lib` holds the few functions the stand-ins and the app's overlay use.
{
  description = "stand-in for NixOS/nixpkgs (pytest-irp lab, offline)";
  outputs = _: {
    lib = import ./lib.nix;
    legacyPackages.x86_64-linux = { };
  };
}
