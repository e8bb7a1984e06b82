# Sourced by scripts/check-embedded.sh and scripts/build-static-lib.sh: compiles the runtime's
# targets in Embedded Swift mode for one target triple, module by module, the way SwiftPM
# builds them, and leaves one object per module in a folder.
#
#   compile_embedded_modules TRIPLE OPT OUT_DIR [EXTRA_SWIFT_FILES...]
#
# 1. EarlyExitKernels (Sources/EarlyExit/Kernels/Generic): the generic float32 kernel bodies,
#    as a module whose @inlinable bodies the next modules instantiate.
# 2. On x86_64 only, EarlyExitKernelsAVX2 (-target-cpu haswell) and EarlyExitKernelsAVX512
#    (-target-cpu skylake-avx512): the bodies compiled for those instruction sets.
# 3. EarlyExit: the core (everything else under Sources/EarlyExit) plus EXTRA_SWIFT_FILES (the
#    C API's files for the static library), importing the modules above and the C module
#    EarlyExitPlatform.
# 4. Sources/EarlyExitPlatform/*.c and Sources/EarlyExit/Kernels/Native/*.c (the int8
#    microkernels; their x86 functions carry their own target attributes and compile to nothing
#    elsewhere) with the toolchain's clang.
# Every object is built with one section per function so that a later --gc-sections link keeps
# only what is reachable. Sets EMBEDDED_OBJECTS to the list of objects.
# Needs SWIFTC (default swiftc) and SWIFT_BIN (the toolchain's bin folder, for clang).

compile_embedded_modules() {
  local triple="$1" opt="$2" out="$3"
  shift 3
  local swiftc="${SWIFTC:-swiftc}"
  local bin="${SWIFT_BIN:-$(dirname "$(readlink -f "$(command -v "$swiftc")")")}"
  local clang="$bin/clang"
  mkdir -p "$out"
  local pic=(-Xcc -fPIC)
  local cpic=(-fPIC)
  case "$triple" in armv7em-*) pic=(); cpic=() ;; esac
  # A module cache of its own: a shared one can hold a C module built from an older set of headers.
  local common=(-enable-experimental-feature Embedded -target "$triple" -wmo "$opt" -parse-as-library
                -module-cache-path "$out/ModuleCache"
                -Xfrontend -function-sections "${pic[@]}" -I "$out" -Xcc -I -Xcc Sources/EarlyExitPlatform/include
                -Xcc -I -Xcc Sources/EarlyExit/Kernels/Native/include)
  EMBEDDED_OBJECTS=()

  "$swiftc" "${common[@]}" -module-name EarlyExitKernels -emit-module -emit-module-path "$out/EarlyExitKernels.swiftmodule" \
    -c Sources/EarlyExit/Kernels/Generic/*.swift -o "$out/EarlyExitKernels.o"
  EMBEDDED_OBJECTS+=("$out/EarlyExitKernels.o")
  case "$triple" in
    x86_64-*)
      for isa in AVX2:haswell AVX512:skylake-avx512; do
        local name="${isa%%:*}" cpu="${isa##*:}"
        "$swiftc" "${common[@]}" -target-cpu "$cpu" -module-name "EarlyExitKernels$name" -emit-module \
          -emit-module-path "$out/EarlyExitKernels$name.swiftmodule" \
          -c "Sources/EarlyExit/Kernels/$name/"*.swift -o "$out/EarlyExitKernels$name.o"
        EMBEDDED_OBJECTS+=("$out/EarlyExitKernels$name.o")
      done ;;
  esac
  local core=()
  while IFS= read -r file; do core+=("$file"); done < <(find Sources/EarlyExit -name '*.swift' \
    -not -path 'Sources/EarlyExit/Kernels/Generic/*' -not -path 'Sources/EarlyExit/Kernels/AVX2/*' \
    -not -path 'Sources/EarlyExit/Kernels/AVX512/*' -not -path 'Sources/EarlyExit/Kernels/Native/*' | sort)
  "$swiftc" "${common[@]}" -module-name EarlyExit -D EARLYEXIT_SINGLE_MODULE -c "${core[@]}" "$@" -o "$out/EarlyExit.o"
  EMBEDDED_OBJECTS+=("$out/EarlyExit.o")
  local c
  local freestanding=()
  case "$triple" in *-none-*) freestanding=(-ffreestanding) ;; esac
  for c in Sources/EarlyExitPlatform/*.c Sources/EarlyExit/Kernels/Native/*.c; do
    local object="$out/c-$(basename "$(dirname "$c")")-$(basename "$c" .c).o"
    # Optimized for speed: these are the int8 inner loops (and a few small platform queries).
    "$clang" --target="$triple" -O2 -ffunction-sections -fdata-sections "${cpic[@]}" "${freestanding[@]}" \
      -I Sources/EarlyExitPlatform/include -I Sources/EarlyExit/Kernels/Native/include -c "$c" -o "$object"
    EMBEDDED_OBJECTS+=("$object")
  done
}
