{
  inputs = {
    ihp.url = "github:digitallyinduced/ihp/v1.5";
    nixpkgs.follows = "ihp/nixpkgs";
    flake-parts.follows = "ihp/flake-parts";
    devenv.follows = "ihp/devenv";
    systems.follows = "ihp/systems";
  };

  outputs = inputs@{ self, nixpkgs, ihp, flake-parts, systems, ... }:
    flake-parts.lib.mkFlake { inherit inputs; } {
      systems = import systems;
      imports = [ ihp.flakeModules.default ];

      perSystem = { pkgs, ... }: {
        ihp = {
          appName = "ihp-railiance-probe";
          enable = true;
          projectPath = ./.;
          packages = with pkgs; [ ];
          haskellPackages = p: with p; [
            p.ihp
            cabal-install
            base
            wai
            text
            hspec
          ];
        };
        # the workplan's `test` (IHP's module defines none): the specs with devenv's PostgreSQL
        devenv.shells.default.scripts.test.exec = ''
          runghc $(make print-ghc-extensions) -i. -ibuild -iConfig Test/Main.hs
        '';
      };
    };
}
