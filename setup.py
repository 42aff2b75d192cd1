"""Build of nncore's one compiled extension, nncore._core.

The C sources in csrc/ are plain C11. Files named *_<isa>.c (gemm_avx2.c,
gemm_avx512.c, gemm_neon.c) hold the SIMD kernels of one instruction set and
are compiled with that set's flags only, so the rest of the library runs on
any CPU; csrc/cpu.c picks the path at run time. Nothing uses -march=native.

Environment knobs at build time:
    NNCORE_OPENMP=0   build without OpenMP (the kernels then run on one thread)
"""

import os
import platform
import sys
import tempfile
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"

# Flags per instruction set, by compiler family. MSVC needs no flag to use
# AVX2/AVX-512 intrinsics, only for autovectorization; NEON is baseline on arm64.
ISA_FLAGS = {
    "unix": {
        "avx2": ["-mavx2", "-mfma"],
        "avx512": ["-mavx512f", "-mavx2", "-mfma"],
        "neon": [],
    },
    "msvc": {"avx2": ["/arch:AVX2"], "avx512": ["/arch:AVX512"], "neon": []},
}


def target_machine():
    machine = platform.machine().lower()
    # cibuildwheel cross-builds macOS arm64 on x86 runners and vice versa.
    archflags = os.environ.get("ARCHFLAGS", "")
    if "arm64" in archflags:
        return "arm64"
    if "x86_64" in archflags:
        return "x86_64"
    return machine


KNOWN_ISAS = ("avx2", "avx512", "neon")


def isa_of(path):
    """'avx2' for csrc/gemm_avx2.c; None for portable files."""
    stem = os.path.splitext(os.path.basename(path))[0]
    suffix = stem.rsplit("_", 1)[-1]
    return suffix if "_" in stem and suffix in KNOWN_ISAS else None


def isa_sources_for(machine):
    """The ISA-specific files that belong to this target machine."""
    wanted = {"x86_64": ("avx2", "avx512"), "amd64": ("avx2", "avx512")}.get(machine, ())
    if machine in ("arm64", "aarch64"):
        wanted = ("neon",)
    return [p for p in glob(os.path.join(CSRC, "*_*.c")) if isa_of(p) in wanted]


class BuildExt(build_ext):
    """Compiles each ISA file with its own flags and OpenMP where available."""

    def build_extensions(self):
        family = "msvc" if self.compiler.compiler_type == "msvc" else "unix"
        if family == "unix":
            # -fopenmp-simd: `omp simd` loop hints work with or without OpenMP threads;
            # -fno-math-errno, -fno-trapping-math: sqrt and float selects may vectorize
            # (nncore never reads errno or the floating-point exception flags)
            base = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-strict-aliasing"]
            base += ["-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math"]
            if os.environ.get("NNCORE_WERROR", "1") != "0":
                base.append("-Werror=implicit-function-declaration")
        else:
            base = ["/O2", "/std:c11"]
        omp_compile, omp_link = self.openmp_flags(family)
        for ext in self.extensions:
            isa_files = isa_sources_for(target_machine())
            objects = []
            for path in isa_files:
                flags = base + omp_compile + ISA_FLAGS[family][isa_of(path)]
                macros = [("NNCORE_HAVE_" + isa_of(path).upper(), "1")]
                objects += self.compiler.compile(
                    [path],
                    output_dir=self.build_temp,
                    include_dirs=[CSRC],
                    macros=macros,
                    extra_postargs=flags,
                    depends=ext.depends,
                )
            ext.extra_objects = objects + list(ext.extra_objects or [])
            ext.define_macros = list(ext.define_macros or []) + [
                ("NNCORE_HAVE_" + isa_of(p).upper(), "1") for p in isa_files
            ]
            if omp_compile:
                ext.define_macros.append(("NNCORE_OPENMP", "1"))
            ext.extra_compile_args = base + omp_compile
            ext.extra_link_args = omp_link
        super().build_extensions()

    def openmp_flags(self, family):
        if os.environ.get("NNCORE_OPENMP", "1") == "0":
            return [], []
        if family == "msvc":
            return ["/openmp"], []
        if sys.platform == "darwin":
            candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
        else:
            candidates = [(["-fopenmp"], ["-fopenmp"])]
        for compile_flags, link_flags in candidates:
            if self.compiles_and_links(compile_flags, link_flags):
                return compile_flags, link_flags
        print("nncore: OpenMP not available, building single-threaded kernels")
        return [], []

    def compiles_and_links(self, compile_flags, link_flags):
        source = "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "omp_check.c")
            with open(path, "w") as f:
                f.write(source)
            try:
                objs = self.compiler.compile([path], output_dir=tmp, extra_postargs=compile_flags)
                self.compiler.link_executable(
                    objs, os.path.join(tmp, "omp_check"), extra_postargs=link_flags
                )
            except Exception:
                return False
        return True


portable_sources = sorted(p for p in glob(os.path.join(CSRC, "*.c")) if isa_of(p) is None)

extension = Extension(
    "nncore._core",
    sources=["nncore/_core.pyx"] + portable_sources,
    include_dirs=[CSRC, np.get_include()],
    depends=glob(os.path.join(CSRC, "*.h")) + glob(os.path.join(CSRC, "*.c")),
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

setup(
    ext_modules=cythonize(
        [extension],
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "freethreading_compatible": True,
        },
    ),
    cmdclass={"build_ext": BuildExt},
)
