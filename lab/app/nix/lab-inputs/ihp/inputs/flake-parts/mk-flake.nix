# lib.mkFlake of the flake-parts stand-in (see flake.nix).
{ inputs, ... }@args: topModule:
let
  inherit (builtins) all attrNames concatMap filter foldl' isAttrs isFunction isList
    listToAttrs zipAttrsWith;
  self = args.self or inputs.self;
  nixpkgs = inputs.nixpkgs;
  lib = nixpkgs.lib;

  mergeable = v: isAttrs v && (v.type or null) != "derivation";
  merge = values:
    if values != [ ] && all mergeable values then zipAttrsWith (_: merge) values
    else if values != [ ] && all isList values then concatMap (v: v) values
    else foldl' (_: v: v) null values;

  call = module: moduleArgs: if isFunction module then module moduleArgs else module;
  topArgs = {
    inherit inputs self lib;
    config = flakeConfig;
    flake-parts-lib = { importApply = file: applyArgs: import file applyArgs; };
    withSystem = system: f: f (perSystemConfig system);
  };
  collect = module:
    let value = call module topArgs; in [ value ] ++ concatMap collect (value.imports or [ ]);
  modules = collect topModule;
  flakeConfig = merge (map (m: removeAttrs m [ "imports" "perSystem" ]) modules);

  systems = flakeConfig.systems or [ ];
  perSystemModules = map (m: m.perSystem) (filter (m: m ? perSystem) modules);
  perSystemConfig = system:
    lib.fix (config: merge (map (m: call m {
      inherit config system lib;
      pkgs = nixpkgs.legacyPackages.${system};
      inputs' = builtins.mapAttrs (_: i: i.outputs or i) inputs;
      self' = { };
    }) perSystemModules));
  transposed = [ "packages" "checks" "apps" "devShells" ];
  perSystemOutputs = listToAttrs (map (output: {
    name = output;
    value = listToAttrs (map (system: {
      name = system;
      value = (perSystemConfig system).${output} or { };
    }) systems);
  }) transposed);
in
perSystemOutputs // (flakeConfig.flake or { })
