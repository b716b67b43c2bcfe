#!/usr/bin/env bash
# Installs the browser bundles of the GraphiQL playground (the npm packages
# graphiql, react and react-dom, at the versions internal/playground pins)
# into a directory that PLAYGROUND_ASSETS_DIR can name, or that a web server
# can publish for PLAYGROUND_ASSETS_URL. Nothing third-party is committed:
# this fetches the packages from the npm registry, once.
#
#   install-assets.sh [DIR]
#
# DIR defaults to $GQLCACHE_PLAYGROUND_ASSETS, else a versioned directory
# under ${XDG_CACHE_HOME:-$HOME/.cache}/gqlcache-playground. When DIR already
# holds the files, it does nothing. It prints DIR on standard output.
set -euo pipefail

GRAPHIQL_VERSION=4.1.2
REACT_VERSION=18.2.0

dir=${1:-${GQLCACHE_PLAYGROUND_ASSETS:-${XDG_CACHE_HOME:-$HOME/.cache}/gqlcache-playground/graphiql-$GRAPHIQL_VERSION-react-$REACT_VERSION}}
files=(graphiql/graphiql.min.js graphiql/graphiql.min.css
	react/umd/react.production.min.js react-dom/umd/react-dom.production.min.js)

complete() {
	local f
	for f in "${files[@]}"; do
		[ -s "$1/$f" ] || return 1
	done
}

if complete "$dir"; then
	echo "$dir"
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "install-assets.sh: npm not found: install Debian's npm package (apt-get install -y npm), or fill $dir from a machine that has it" >&2
	exit 1
fi

mkdir -p "$(dirname "$dir")"
tmp=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# npm pack fetches each package's tarball alone (the UMD bundles need none
# of their dependencies), checks it against the registry's integrity hash,
# and keeps it in npm's cache, so a reinstall needs no network. No retries
# and a short timeout: an unreachable registry is reported in seconds, as
# what it is, instead of after a minute of retrying.
if ! out=$(cd "$tmp" && npm pack --loglevel=error --prefer-offline --ignore-scripts --fetch-retries=0 --fetch-timeout=30000 \
	"graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" 2>&1 >/dev/null); then
	echo "$out" >&2
	if grep -qE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH' <<<"$out"; then
		echo "install-assets.sh: npm's registry ($(npm config get registry)) could not be reached: run this once with network access, or fill $dir from a machine that has it" >&2
	else
		echo "install-assets.sh: npm pack graphiql@$GRAPHIQL_VERSION react@$REACT_VERSION react-dom@$REACT_VERSION failed (above)" >&2
	fi
	exit 1
fi
mkdir "$tmp/out"
for p in "graphiql-$GRAPHIQL_VERSION" "react-$REACT_VERSION" "react-dom-$REACT_VERSION"; do
	mkdir "$tmp/out/${p%-*}"
	tar -xzf "$tmp/$p.tgz" -C "$tmp/out/${p%-*}" --strip-components=1 --no-same-owner
done
complete "$tmp/out" || { echo "install-assets.sh: the packages lack an expected file (${files[*]})" >&2; exit 1; }

# The rename makes DIR appear whole; a concurrent run that got there first
# leaves it complete, which is as good.
if ! mv -T "$tmp/out" "$dir" 2>/dev/null && ! complete "$dir"; then
	echo "install-assets.sh: $dir exists but is incomplete: remove it and run again" >&2
	exit 1
fi
echo "install-assets.sh: installed graphiql@$GRAPHIQL_VERSION, react@$REACT_VERSION, react-dom@$REACT_VERSION into $dir" >&2
echo "$dir"
