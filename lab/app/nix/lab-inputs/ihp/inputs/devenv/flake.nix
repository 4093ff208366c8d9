# Stand-in for github:cachix/devenv (the lab has no network): IHP's flake module imports
# devenv's flakeModule for `devenv up` / the dev shell. The lab only builds, so the module
# here is empty.
{
  description = "stand-in for cachix/devenv (pytest-irp lab, offline)";
  outputs = _: {
    flakeModule = { };
  };
}
