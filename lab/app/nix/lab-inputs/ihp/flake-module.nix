# Stand-in for IHP's flake-module.nix (the flake-parts module of an IHP app), for the
# pytest-irp lab: nothing real can be built offline (no GHC, no nixpkgs), so the outputs
# are built with the host's /bin/sh and busybox (NixSupport/*.sh) from the app's sources.
#
# Options the app sets under perSystem.ihp (as in IHP 1.4-1.6): enable, appName,
# projectPath, packages, haskellPackages (read, not built: there is no GHC here).
# Outputs (names as IHP's module has them):
#   packages.<system>.default                  the prod server (IHP: unoptimized-prod-server)
#   packages.<system>.unoptimized-prod-server  the same
#   packages.<system>.optimized-prod-server    the same, "optimized"
#   packages.<system>.unoptimized-docker-image docker-archive of the prod server
#   packages.<system>.optimized-docker-image   docker-archive of the optimized server
#   checks.<system>.tests                      Test/Main.hs's specs, no PostgreSQL (IHP 1.5+, when Test/Main.hs exists)
#   checks.<system>.integration-tests          Test/Integration.hs's specs with a temporary PostgreSQL
#                                              (IHP 1.5+, when Test/Integration.hs exists)
# What stands in for what is in lab/app/README.md.
ihpFlake:
{ inputs, ... }:
{
  imports = [ ihpFlake.inputs.devenv.flakeModule ];

  perSystem = { config, system, ... }:
    let
      cfg = config.ihp;
      appName = cfg.appName or "app";
      hostBuild = name: script: attrs: derivation ({
        inherit name system;
        builder = "/bin/sh";
        args = [ script ];
        src = cfg.projectPath;
        busybox = "/bin/busybox";
        PATH = "/usr/bin:/bin";
        inherit appName;
      } // attrs);
      server = optimized: hostBuild
        "${appName}-${if optimized then "optimized-" else ""}prod-server"
        ./NixSupport/server.sh {
          runProdServer = ./NixSupport/RunProdServer.sh;
          compile = ./NixSupport/compile.sh;
          routesAwk = ./NixSupport/routes.awk;
          inherit optimized;
        };
      image = optimized: hostBuild
        "docker-image-${appName}${if optimized then "" else "-unoptimized"}.tar"
        ./NixSupport/image.sh { server = server optimized; };
      enabled = outputs: if cfg.enable or false then outputs else
        throw "ihp: set perSystem.ihp.enable = true";
    in
    {
      packages = {
        default = enabled (server false);
        unoptimized-prod-server = enabled (server false);
        optimized-prod-server = enabled (server true);
        unoptimized-docker-image = enabled (image false);
        optimized-docker-image = enabled (image true);
      };
      # IHP (flake-module.nix v1.5.0 L317-370) adds `tests` when the app has Test/Main.hs
      # (runghc, no PostgreSQL) and `integration-tests` when it has Test/Integration.hs
      # (initdb + pg_ctl: a temporary PostgreSQL, DATABASE_URL pointing at it).
      checks = (if builtins.pathExists (cfg.projectPath + "/Test/Main.hs") then {
        tests = enabled (hostBuild "${appName}-tests" ./NixSupport/tests.sh {
          compile = ./NixSupport/compile.sh;
          routesAwk = ./NixSupport/routes.awk;
          entry = "Test/Main.hs";
          database = "";
        });
      } else { }) // (if builtins.pathExists (cfg.projectPath + "/Test/Integration.hs") then {
        integration-tests = enabled (hostBuild "${appName}-integration-tests" ./NixSupport/tests.sh {
          compile = ./NixSupport/compile.sh;
          routesAwk = ./NixSupport/routes.awk;
          entry = "Test/Integration.hs";
          database = "1";
        });
      } else { });
    };
}
