# Builder of packages.x86_64-linux.docker: a docker-archive of a tiny static server
# (uncompressed, like dockerTools.buildImage with `compressor = "none"`: Debian's skopeo 1.9
# cannot read a gzipped docker-archive).
# Runs under `derivation { builder = "/bin/sh"; }` with host tools only (no network, no
# nixpkgs). The served endpoints follow the app's sources: a route is served only when
# Web/Routes.hs declares it, and /healthz answers the string given to renderPlain in
# Web/Controller/Health.hs. The output is bit-for-bit reproducible.
set -eu
umask 022
app=ihp-railiance-probe
epoch=1
created=1970-01-01T00:00:01Z

# "Compile": every controller the front controller imports must exist.
n=0
while IFS= read -r line; do
  n=$((n + 1))
  case "$line" in
    "import Web.Controller."*)
      mod=${line#import }
      mod=${mod%% *}
      file=$(printf '%s' "$mod" | tr . /).hs
      if [ ! -f "$src/$file" ]; then
        echo "Web/FrontController.hs:$n:1: error: [GHC-87110]" >&2
        echo "    Could not find module '$mod'." >&2
        exit 1
      fi
      ;;
  esac
done < "$src/Web/FrontController.hs"

route() { grep -q "pathPrefix \"$1\"" "$src/Web/Routes.hs"; }

root=$PWD/rootfs
mkdir -p "$root/bin" "$root/www" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$src/nix/RunProdServer.sh" "$root/bin/RunProdServer"
chmod 0755 "$root/bin/busybox" "$root/bin/RunProdServer"
chmod 1777 "$root/tmp"
if route /healthz; then
  body=$(sed -n 's/.*renderPlain "\([^"]*\)".*/\1/p' "$src/Web/Controller/Health.hs" | head -n 1)
  printf '%s' "$body" > "$root/www/healthz"
fi
if route /probes; then
  printf '[]' > "$root/www/probes"
fi

tarit() {  # tarit TARFILE DIR NAME... : deterministic tar of NAMEs under DIR
  tarfile=$1
  tardir=$2
  shift 2
  tar --format=gnu --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$epoch" --mode=go-w -C "$tardir" -cf "$tarfile" "$@"
}

img=$PWD/image
mkdir -p "$img"
tarit "$PWD/layer.tar" "$root" bin tmp www
layer=$(sha256sum layer.tar | cut -d' ' -f1)
mkdir -p "$img/$layer"
mv layer.tar "$img/$layer/layer.tar"

printf '%s' "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"$created\",\
\"config\":{\"Cmd\":[\"/bin/RunProdServer\"],\"Env\":[\"PATH=/bin\",\"PORT=8000\",\
\"IHP_ENV=Production\"],\"ExposedPorts\":{\"8000/tcp\":{}},\"WorkingDir\":\"/\",\
\"Labels\":{\"org.opencontainers.image.title\":\"$app\"}},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer\"]},\
\"history\":[{\"created\":\"$created\",\"created_by\":\"pytest-irp lab sample app\"}]}" > config.json
cfg=$(sha256sum config.json | cut -d' ' -f1)
mv config.json "$img/$cfg.json"
printf '%s' "[{\"Config\":\"$cfg.json\",\"RepoTags\":[\"$app:latest\"],\
\"Layers\":[\"$layer/layer.tar\"]}]" > "$img/manifest.json"
printf '%s' "{\"$app\":{\"latest\":\"$layer\"}}" > "$img/repositories"

tarit "$out" "$img" manifest.json repositories "$cfg.json" "$layer"
