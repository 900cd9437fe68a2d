#!/usr/bin/env bash
# Builds the Unity bridge outside Unity, with Debian's Mono (installed when missing):
#   build/AvatarRealtime.Core.dll    Runtime/Core (engine-free; the code Unity compiles unchanged)
#   build/UnityEngine.dll            a minimal stub of the UnityEngine types the Unity layer uses
#   build/AvatarRealtime.dll         Runtime/*.cs, type-checked against that stub (not Unity)
#   build/AvatarRealtime.Tests.dll   Tests/Editor (NUnit 2.6 API, also runs under Unity's NUnit 3)
#   build/AvatarRealtime.PlayModeTests.dll  Tests/Runtime, type-checked only
#   build/AvatarConsole.exe          Samples~/Console: one turn from the command line
# `bash build.sh --test` also runs the NUnit tests and prints "N passed, N failed"
# (the live tests need AVATAR_TEST_WS_URL; tests/test_unity_bridge.py sets it).
set -euo pipefail
cd "$(dirname "$0")"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

NUNIT_DLL=/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll
if ! command -v mcs >/dev/null || ! command -v nunit-console >/dev/null || [[ ! -f $NUNIT_DLL ]]; then
  say "installing Mono and NUnit (apt, once)"
  PKGS=(mono-mcs nunit-console libnunit-framework2.6.3-cil)
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null 2>&1 || {
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  }
fi

# C# 7.2 is what Mono's mcs 6.8 accepts; Unity (Roslyn, C# 9) compiles the same files unchanged.
MCS=(mcs -langversion:7.2 -nologo -warnaserror -debug- -optimize+ -nowarn:1591)
OUT=build
mkdir -p "$OUT"
cs() { find "$@" -name '*.cs' -print0 | sort -z | xargs -0 printf '%s\n'; }
compile() { # compile OUT_FILE TARGET [mcs args...] -- sources...
  local out=$1 target=$2; shift 2
  local args=() srcs=()
  while [[ $# -gt 0 && $1 != -- ]]; do args+=("$1"); shift; done
  shift
  mapfile -t srcs < <(cs "$@")
  "${MCS[@]}" -target:"$target" -out:"$OUT/$out" "${args[@]}" "${srcs[@]}"
}

say "compiling the Unity bridge with $(mcs --version | head -1)"
compile AvatarRealtime.Core.dll library -r:System.Net.Http.dll -- Runtime/Core
compile UnityEngine.dll library -nowarn:67,649,169,414 -- Tools~/UnityStub
compile AvatarRealtime.dll library -r:"$OUT/AvatarRealtime.Core.dll" -r:"$OUT/UnityEngine.dll" \
  -- $(find Runtime -maxdepth 1 -name '*.cs' -printf '%p ' ; true) Runtime/Unity
compile AvatarRealtime.Tests.dll library -r:"$OUT/AvatarRealtime.Core.dll" -r:"$NUNIT_DLL" \
  -r:System.Net.Http.dll -- Tests/Editor
compile AvatarRealtime.PlayModeTests.dll library -r:"$OUT/AvatarRealtime.Core.dll" \
  -r:"$OUT/AvatarRealtime.dll" -r:"$OUT/UnityEngine.dll" -r:"$NUNIT_DLL" -- Tests/Runtime
compile AvatarConsole.exe exe -r:"$OUT/AvatarRealtime.Core.dll" -- Samples~/Console
echo "built $(ls "$OUT" | tr '\n' ' ')"

if [[ ${1:-} == --test ]]; then
  (cd "$OUT" && nunit-console -nologo -noshadow AvatarRealtime.Tests.dll -xml=TestResult.xml >nunit.log 2>&1) || true
  python3 Tools~/nunit_summary.py "$OUT/TestResult.xml"
fi
