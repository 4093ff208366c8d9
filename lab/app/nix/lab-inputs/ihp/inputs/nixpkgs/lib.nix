# The few nixpkgs `lib` functions the lab's stand-ins and the sample app use, written
# from their documented meaning (stand-in; see flake.nix).
let
  fix = f: let x = f x; in x;
in
{
  inherit fix;
  genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
  # composeExtensions f g: an extension that applies f, then g on f's result.
  composeExtensions = f: g: final: prev:
    let fApplied = f final prev; in fApplied // g final (prev // fApplied);
}
