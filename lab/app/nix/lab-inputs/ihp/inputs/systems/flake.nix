# Stand-in for github:nix-systems/default (the lab has no network): the list of systems
# the app is built for, read with `import systems` (default.nix).
{
  description = "stand-in for nix-systems/default (pytest-irp lab, offline)";
  outputs = _: { };
}
