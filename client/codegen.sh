#!/usr/bin/env bash
# Runs GraphQL Code Generator (codegen.yml) from the repository's root: the
# typed documents and the trusted documents' manifest under client/web/.
# go generate ./... runs it. The pinned npm packages install once per
# machine into ${GQLCACHE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gqlcache-node};
# nothing third-party is committed.
set -euo pipefail

CODEGEN_VERSION=7.4.3
PRESET_VERSION=6.2.0
GRAPHQL_VERSION=16.11.0

cd "$(dirname "$0")/.."
root=${GQLCACHE_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gqlcache-node}
dir=$root/codegen-$CODEGEN_VERSION-client-preset-$PRESET_VERSION-graphql-$GRAPHQL_VERSION

if [ ! -e "$dir/.complete" ]; then
	for tool in node npm; do
		command -v $tool >/dev/null 2>&1 || {
			echo "codegen.sh: $tool not found: install Debian's nodejs and npm packages (apt-get install -y nodejs npm)" >&2
			exit 1
		}
	done
	mkdir -p "$root"
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo '{"private": true}' >"$tmp/package.json"
	# No retries and a short timeout: an unreachable registry is reported in
	# seconds, as what it is.
	if ! out=$(cd "$tmp" && npm install --no-audit --no-fund --ignore-scripts --prefer-offline \
		--fetch-retries=0 --fetch-timeout=30000 --loglevel=error \
		"@graphql-codegen/cli@$CODEGEN_VERSION" "@graphql-codegen/client-preset@$PRESET_VERSION" \
		"graphql@$GRAPHQL_VERSION" 2>&1); then
		echo "$out" >&2
		if grep -qE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH' <<<"$out"; then
			echo "codegen.sh: npm's registry ($(npm config get registry)) could not be reached; GraphQL Code Generator installs from it once per machine" >&2
		else
			echo "codegen.sh: npm install failed" >&2
		fi
		exit 1
	fi
	touch "$tmp/.complete"
	mv -T "$tmp" "$dir" 2>/dev/null || [ -e "$dir/.complete" ]
fi

# The preset is found through NODE_PATH, since node_modules is not here.
NODE_PATH=$dir/node_modules "$dir/node_modules/.bin/graphql-codegen" --config client/codegen.yml --silent
