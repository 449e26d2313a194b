#!/bin/sh
# Fetches Debian's source package of cJSON into DIR (build/fuzz/src), so the
# fuzz targets compile cJSON with the fuzzer's instrumentation: libFuzzer
# learns nothing from the system's uninstrumented libcjson.  The deb-src
# entries live in a private apt configuration under DIR/apt, never in the
# system's sources.list.  The version installed as libcjson-dev is taken
# when the archive still has it, else the newest.  Needs root (apt-get
# source unpacks with dpkg-source).  Usage: fuzz-cjson.sh DIR
set -eu
dir=$1
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
if [ -f "$dir/cjson/cJSON.c" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "fuzz: cJSON's source is missing from $dir/cjson and fetching it" >&2
	echo "fuzz: needs root (apt-get source); run 'make fuzz-build' as root" >&2
	exit 1
fi
suites=$(sed -n 's/^Suites: *//p' /etc/apt/sources.list.d/debian.sources \
    2>/dev/null | head -n 1)
: "${suites:=bookworm bookworm-updates}"
codename=${suites%% *}
mkdir -p "$dir/apt/etc" "$dir/apt/lists/partial" \
    "$dir/apt/cache/archives/partial" "$dir/src"
cat >"$dir/apt/etc/deb-src.sources" <<EOT
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suites
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
apt() {
	apt-get -q -o Dir::Etc::SourceList=/dev/null \
	    -o Dir::Etc::SourceParts="$dir/apt/etc" \
	    -o Dir::State::Lists="$dir/apt/lists" \
	    -o Dir::Cache="$dir/apt/cache" "$@"
}
apt update >&2
ver=$(dpkg-query -W -f='${Version}' libcjson-dev 2>/dev/null || true)
rm -rf "$dir/src" && mkdir -p "$dir/src"
cd "$dir/src"
if [ -z "$ver" ] || ! apt source "cjson=$ver" >&2; then
	apt source cjson >&2
fi
src=$(find "$dir/src" -maxdepth 2 -name cJSON.c | head -n 1)
if [ -z "$src" ]; then
	echo "fuzz: apt-get source cjson gave no cJSON.c" >&2
	exit 1
fi
mkdir -p "$dir/cjson/cjson"
cp "$src" "$(dirname "$src")/cJSON.h" "$dir/cjson/"
cp "$(dirname "$src")/cJSON.h" "$dir/cjson/cjson/"
echo "fuzz: cJSON source from Debian: $(basename "$(dirname "$src")")" >&2
