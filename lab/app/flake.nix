{
  description = "ihp-railiance-probe: IHP-shaped sample app for the pytest-irp lab";

  # No inputs: the lab has no network and no binary cache. The real app takes nixpkgs and
  # IHP as inputs; here every output is built with host tools (see README.md).
  outputs = { self }:
    let
      system = "x86_64-linux";
      appName = "ihp-railiance-probe";

      # Haskell packages the app depends on (the real flake passes these to IHP as
      # `haskellPackages = p: with p; [ ... ]`; here they are names, for inspection).
      haskellPackages = [ "base" "wai" "text" "hspec" "ihp" "ihp-hspec" ];

      # -- models overlay (begin)
      # The models overlay kept verbatim from the baseline flake: it rewrites the export list
      # of build/Generated/ActualTypes.hs so GHC 9.10.3 does not overflow the .hi file.
      models = {
        package = "${appName}-models";
        configureFlags = [
          "--ghc-option=-fomit-interface-pragmas"
          "--ghc-option=-fno-specialise"
        ];
        postUnpack = ''
          actual="$sourceRoot/build/Generated/ActualTypes.hs"
          if [ -f "$actual" ]; then
            sed -i -e 's/^module Generated.ActualTypes (.*) where$/module Generated.ActualTypes where/' "$actual"
          fi
        '';
      };

      modelsOverlay = final: prev: {
        haskellPackages = prev.haskellPackages.override (old: {
          overrides = final.lib.composeExtensions (old.overrides or (_: _: { })) (hself: hsuper: {
            ${models.package} = final.haskell.lib.overrideCabal hsuper.${models.package} (drv: {
              configureFlags = (drv.configureFlags or [ ]) ++ models.configureFlags;
              postUnpack = (drv.postUnpack or "") + models.postUnpack;
            });
          });
        });
      };
      # -- models overlay (end)

      hostBuild = name: script: derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ script ];
        src = self;
        busybox = "/bin/busybox";
        PATH = "/usr/bin:/bin";
      };

      docker = hostBuild "docker-image-${appName}.tar" ./nix/docker.sh;
      tests = hostBuild "${appName}-tests" ./nix/tests.sh;
    in
    {
      packages.${system} = {
        inherit docker;
        default = docker;
      };

      checks.${system} = {
        inherit tests;
      };

      overlays = {
        models = modelsOverlay;
      };

      # Plain data for `nix eval` (the real flake keeps these inside its IHP module options).
      irp = {
        inherit appName haskellPackages;
        overlays = {
          inherit models;
        };
      };
    };
}
