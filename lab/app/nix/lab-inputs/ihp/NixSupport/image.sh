# Builder of the stand-in IHP flake module's unoptimized-docker-image and
# optimized-docker-image (IHP: dockerTools.buildImage of the prod server): a docker-archive
# with one layer: Debian's static busybox, the stand-in server's /bin/RunProdServer and
# /www (server.sh). Uncompressed (like dockerTools.buildImage with `compressor = "none"`:
# Debian's skopeo 1.9 cannot read a gzipped docker-archive).
# Runs under `derivation { builder = "/bin/sh"; }` with host tools only (no network, no
# nixpkgs). The output is bit-for-bit reproducible. Like IHP's images (flake-module.nix:
# `config = { Cmd = [ ... ]; }`), the image sets no IHP_ENV: the release gives it.
set -eu
umask 022
app=$appName
epoch=1
created=1970-01-01T00:00:01Z

root=$PWD/rootfs
mkdir -p "$root/bin" "$root/www" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp "$server/bin/RunProdServer" "$root/bin/RunProdServer"
cp -R "$server/www/." "$root/www/"
chmod 0755 "$root/bin/busybox" "$root/bin/RunProdServer"
chmod 1777 "$root/tmp"
chmod -R u+w "$root/www"

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
\"config\":{\"Cmd\":[\"/bin/RunProdServer\"],\"Env\":[\"PATH=/bin\",\"PORT=8000\"],\
\"ExposedPorts\":{\"8000/tcp\":{}},\"WorkingDir\":\"/\",\
\"Labels\":{\"org.opencontainers.image.title\":\"$app\"}},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$layer\"]},\
\"history\":[{\"created\":\"$created\",\"created_by\":\"pytest-irp lab sample app\"}]}" > config.json
cfg=$(sha256sum config.json | cut -d' ' -f1)
mv config.json "$img/$cfg.json"
printf '%s' "[{\"Config\":\"$cfg.json\",\"RepoTags\":[\"$app:latest\"],\
\"Layers\":[\"$layer/layer.tar\"]}]" > "$img/manifest.json"
printf '%s' "{\"$app\":{\"latest\":\"$layer\"}}" > "$img/repositories"

tarit "$out" "$img" manifest.json repositories "$cfg.json" "$layer"
