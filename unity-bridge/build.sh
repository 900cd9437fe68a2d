#!/usr/bin/env bash
# Builds the Unity bridge outside Unity with Debian's Mono (installed when missing), into build/:
#   AvatarRealtime.Core.dll           Runtime/Core: engine-free, the code Unity compiles unchanged
#   AvatarConsole.exe                 Samples~/Console: one turn from the command line
#   AvatarRealtime.Tests.dll          Tests/Editor (NUnit 2.6 API; Unity runs them on its NUnit 3)
#   UnityEngine.dll, UniVRM10.dll     Tools~/UnityStub: compile-only stubs of the APIs we call
#   AvatarRealtime.dll (+ .Vrm.dll)   Runtime/Unity, type-checked against the stubs, without and
#                                     with UniVRM; plus Tests/Runtime and Samples~/BasicScene
# The stubs are not Unity: they check our own code (names, types, arguments), not behaviour.
#   bash unity-bridge/build.sh          # build
#   bash unity-bridge/build.sh --test   # ... and run the NUnit tests: "NUnit: N passed, N failed"
#                                       # (LiveSessionTests need AVATAR_TEST_WS_URL, see
#                                       #  tests/test_unity_bridge.py, and are ignored without it)
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

NUNIT_DLL=/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll
if ! command -v mcs >/dev/null || ! command -v nunit-console >/dev/null || [[ ! -f $NUNIT_DLL ]]; then
  say "installing Mono and NUnit 2.6 (apt, once)"
  PKGS=(mono-mcs nunit-console libnunit-framework2.6.3-cil)
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  fi
fi

# mcs 6.8 takes C# up to 7.2; warnings are errors. Absolute source paths: the tests find their
# vectors through [CallerFilePath].
OUT=$HERE/build
mkdir -p "$OUT"
srcs() { find "$@" -name '*.cs' | sort; }
mcs_lib() { mcs -langversion:7.2 -nologo -warnaserror -debug- -optimize+ "$@"; }

# nothing to do when no source (nor this script, nor the compiler) changed since the last build
STAMP=$( (find "$HERE/Runtime" "$HERE/Tests" "$HERE/Samples~" "$HERE/Tools~/UnityStub" -name '*.cs' -print0 \
          | sort -z | xargs -0 sha1sum; sha1sum "$HERE/build.sh"; mcs --version) | sha1sum | cut -c1-16)
compile_all() {
  rm -f "$OUT"/.stamp-*
  say "compiling the Unity bridge ($(mcs --version | sed 's/Mono C# compiler version //'))"
  mapfile -t CORE < <(srcs "$HERE/Runtime/Core")
  mapfile -t UNITY < <(srcs "$HERE/Runtime/Unity")
  mapfile -t TESTS < <(srcs "$HERE/Tests/Editor")
  mapfile -t PLAY < <(srcs "$HERE/Tests/Runtime")
  mapfile -t SAMPLE < <(srcs "$HERE/Samples~/BasicScene")
  mapfile -t CONSOLE < <(srcs "$HERE/Samples~/Console")
  C="-r:$OUT/AvatarRealtime.Core.dll"
  mcs_lib -target:library -out:"$OUT/AvatarRealtime.Core.dll" "${CORE[@]}"
  mcs_lib -target:exe -out:"$OUT/AvatarConsole.exe" "$C" "${CONSOLE[@]}"
  mcs_lib -target:library -out:"$OUT/AvatarRealtime.Tests.dll" "$C" -r:"$NUNIT_DLL" "${TESTS[@]}"
  mcs_lib -target:library -nowarn:67,649,169,414 -out:"$OUT/UnityEngine.dll" "$HERE/Tools~/UnityStub/UnityEngine.cs"
  mcs_lib -target:library -out:"$OUT/UniVRM10.dll" -r:"$OUT/UnityEngine.dll" "$HERE/Tools~/UnityStub/UniVRM10.cs"
  U="-r:$OUT/UnityEngine.dll"
  mcs_lib -target:library -out:"$OUT/AvatarRealtime.dll" "$C" "$U" "${UNITY[@]}"
  mcs_lib -target:library -out:"$OUT/AvatarRealtime.Vrm.dll" -d:AVATAR_REALTIME_VRM10 "$C" "$U" \
    -r:"$OUT/UniVRM10.dll" "${UNITY[@]}"
  mcs_lib -target:library -out:"$OUT/AvatarRealtime.PlayModeTests.dll" "$C" "$U" \
    -r:"$OUT/AvatarRealtime.dll" -r:"$NUNIT_DLL" "${PLAY[@]}"
  mcs_lib -target:library -out:"$OUT/AvatarRealtime.Sample.dll" "$C" "$U" -r:"$OUT/AvatarRealtime.dll" "${SAMPLE[@]}"
  echo "    build/: $(cd "$OUT" && ls ./*.dll ./*.exe | xargs -n1 basename | tr '\n' ' ')"
  touch "$OUT/.stamp-$STAMP"
}
if [[ -f $OUT/.stamp-$STAMP && -f $OUT/AvatarConsole.exe ]]; then
  echo "    unity-bridge/build/ is up to date"
else
  compile_all
fi

if [[ ${1:-} == --test ]]; then
  rm -f "$OUT/TestResult.xml"
  (cd "$OUT" && nunit-console -nologo -noshadow AvatarRealtime.Tests.dll -xml=TestResult.xml >nunit.log 2>&1) || true
  [[ -f $OUT/TestResult.xml ]] || { cat "$OUT/nunit.log"; exit 1; }
  python3 "$HERE/Tools~/nunit_summary.py" "$OUT/TestResult.xml"
fi
