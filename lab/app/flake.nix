{
    inputs = {
        # IHP, as `ihp-new` writes it: ihp.url = "github:digitallyinduced/ihp/v1.6";
        # The pytest-irp lab has no network and no binary cache: its stand-in for IHP's
        # flake (and, following it, for nixpkgs, flake-parts, devenv and systems) lives in
        # nix/lab-inputs/ (see nix/lab-inputs/README.md). Everything below is the app's
        # real flake.
        ihp.url = "path:./nix/lab-inputs/ihp";
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
                    packages = with pkgs; [
                        # Native dependencies, e.g. imagemagick
                    ];
                    haskellPackages = p: with p; [
                        # Haskell dependencies go here
                        p.ihp
                        cabal-install
                        base
                        wai
                        text
                        hspec
                    ];
                };
            };

            # -- models overlay (begin)
            # The app's models package (the generated types of Application/Schema.sql):
            # GHC 9.10.3 overflows the interface file of Generated.ActualTypes (Bug 1), so
            # the package is built without interface pragmas and specialisation, and its
            # export list is dropped before GHC reads it.
            flake.overlays.models = final: prev:
                let
                    modelsPackage = "ihp-railiance-probe-models";
                in {
                    haskellPackages = prev.haskellPackages.override (old: {
                        overrides = final.lib.composeExtensions (old.overrides or (_: _: { }))
                            (hself: hsuper: {
                                ${modelsPackage} = final.haskell.lib.overrideCabal hsuper.${modelsPackage} (drv: {
                                    configureFlags = (drv.configureFlags or [ ]) ++ [
                                        "--ghc-option=-fomit-interface-pragmas"
                                        "--ghc-option=-fno-specialise"
                                    ];
                                    postUnpack = (drv.postUnpack or "") + ''
                                        actual="$sourceRoot/build/Generated/ActualTypes.hs"
                                        if [ -f "$actual" ]; then
                                            sed -i -e 's/^module Generated.ActualTypes (.*) where$/module Generated.ActualTypes where/' "$actual"
                                        fi
                                    '';
                                });
                            });
                    });
                };
            # -- models overlay (end)
        };
}
