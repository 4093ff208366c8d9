# Stand-in for nix-systems/default: only the lab's build host system.
[ "x86_64-linux" ]
