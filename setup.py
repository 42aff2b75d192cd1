"""Build of nncore's two compiled extensions.

nncore.cython_kernels holds the C kernels (csrc/) and exports every function
of csrc/nncore.h to Cython through its capsule table; nncore._core, the
binding the Python API uses, calls them through that table too, so the C code
and its state (kernel table, thread count) exist once per process.

The C sources in csrc/ are plain C11. Files named *_<isa>.c (gemm_avx2.c,
gemm_avx512.c, gemm_neon.c) hold the SIMD kernels of one instruction set and
are compiled with that set's flags only, so the rest of the library runs on
any CPU; csrc/dispatch.c picks the path at run time. Nothing uses -march=native.

Two files are generated in nncore/ before the build (and are not in git):
include/nncore.h, a copy of csrc/nncore.h that the wheel ships for
nncore.get_include(), and _cython_kernels_forwarders.pxi (write_forwarders).

Environment knobs at build time:
    NNCORE_OPENMP=0   build without OpenMP (the kernels then run on one thread)
    NNCORE_WERROR=0   compiler warnings in csrc/ do not stop the build
"""

import os
import platform
import re
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from glob import glob

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = "csrc"
KERNELS_MODULE = "nncore.cython_kernels"

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


PORTABLE_SOURCES = sorted(p for p in glob(os.path.join(CSRC, "*.c")) if isa_of(p) is None)


def isa_sources_for(machine):
    """The ISA-specific files that belong to this target machine."""
    wanted = {"x86_64": ("avx2", "avx512"), "amd64": ("avx2", "avx512")}.get(machine, ())
    if machine in ("arm64", "aarch64"):
        wanted = ("neon",)
    return [p for p in glob(os.path.join(CSRC, "*_*.c")) if isa_of(p) in wanted]


class BuildExt(build_ext):
    """Compiles csrc/ into nncore.cython_kernels: the portable files for any CPU,
    each ISA file with its own instruction set's flags, OpenMP where available,
    warnings as errors with gcc and clang (NNCORE_WERROR=0 turns that off).
    The C that Cython generates is compiled with the same warnings shown but
    never as errors: it is not nncore's code."""

    def build_extensions(self):
        family = "msvc" if self.compiler.compiler_type == "msvc" else "unix"
        if family == "unix":
            # -fopenmp-simd: `omp simd` loop hints work with or without OpenMP threads;
            # -fno-math-errno, -fno-trapping-math: sqrt and float selects may vectorize
            # (nncore never reads errno or the floating-point exception flags)
            base = ["-std=c11", "-O3", "-Wall", "-Wextra", "-fno-strict-aliasing"]
            base += ["-fopenmp-simd", "-fno-math-errno", "-fno-trapping-math"]
            werror = ["-Werror"] if os.environ.get("NNCORE_WERROR", "1") != "0" else []
        else:
            base, werror = ["/O2", "/std:c11"], []
        if family == "unix" and not self.parallel:
            # One compiler per core: the csrc/ files side by side, then the two
            # modules (their Cython C is most of the build).
            self.parallel = os.cpu_count() or 1
        omp_compile, omp_link = self.openmp_flags(family)
        for ext in self.extensions:
            ext.extra_compile_args = list(base)
            if ext.name == KERNELS_MODULE:
                kernel_flags = base + werror + omp_compile
                ext.extra_objects = self.compile_kernels(ext, family, kernel_flags, omp_compile)
                ext.extra_link_args = omp_link
        super().build_extensions()

    def compile_kernels(self, ext, family, flags, omp_compile):
        """The object files of csrc/ for this target machine."""
        isa_files = isa_sources_for(target_machine())
        # dispatch.c offers the SIMD paths whose files are built (NNCORE_HAVE_<ISA>)
        macros = [("NNCORE_HAVE_" + isa_of(p).upper(), "1") for p in isa_files]
        if omp_compile:
            macros.append(("NNCORE_OPENMP", "1"))
        jobs = [([path], macros, flags) for path in PORTABLE_SOURCES]
        for path in isa_files:
            isa = isa_of(path)
            macro = [("NNCORE_HAVE_" + isa.upper(), "1")]
            jobs.append(([path], macro, flags + ISA_FLAGS[family][isa]))
        workers = int(self.parallel) if family == "unix" and self.parallel else 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            done = pool.map(lambda job: self.compile_c(*job, ext.depends), jobs)
            return [obj for objects in done for obj in objects]

    def compile_c(self, sources, macros, flags, depends):
        return self.compiler.compile(
            sources,
            output_dir=self.build_temp,
            include_dirs=[CSRC],
            macros=macros,
            extra_postargs=flags,
            depends=depends,
        )

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


def copy_header():
    """nncore/include/nncore.h: the public header, shipped for nncore.get_include()."""
    os.makedirs(os.path.join("nncore", "include"), exist_ok=True)
    shutil.copyfile(os.path.join(CSRC, "nncore.h"), os.path.join("nncore", "include", "nncore.h"))


def exported_functions(pxd_text):
    """(return type, name, parameter list) of each top-level `cdef ... noexcept nogil`
    function declared in a .pxd, in order."""
    pattern = re.compile(
        r"^cdef (?P<ret>[^\n(]*?)\s*\b(?P<name>nc_\w+)\((?P<params>[^)]*)\) noexcept nogil$",
        re.MULTILINE,
    )
    found = []
    for match in pattern.finditer(pxd_text):
        params = " ".join(match["params"].split())
        found.append((match["ret"], match["name"], params))
    return found


def parameter_names(params):
    """['m', 'a'] for 'size_t m, const float *a'; [] for ''."""
    return [re.search(r"(\w+)\s*$", p).group(1) for p in params.split(",") if p.strip()]


def write_forwarders():
    """nncore/_cython_kernels_forwarders.pxi: for each function cython_kernels.pxd
    declares, the C function under a private Cython name and the exported Cython
    function that calls it (a signature is written once, in the .pxd)."""
    with open(os.path.join("nncore", "cython_kernels.pxd")) as f:
        functions = exported_functions(f.read())
    lines = ["# Generated by setup.py (write_forwarders) from cython_kernels.pxd.", ""]
    lines.append('cdef extern from "nncore.h" nogil:')
    for ret, name, params in functions:
        lines.append(f'    {ret} _c_{name} "{name}"({params})')
    for ret, name, params in functions:
        call = f"_c_{name}({', '.join(parameter_names(params))})"
        lines += ["", "", f"cdef {ret} {name}({params}) noexcept nogil:"]
        lines.append(f"    {call}" if ret == "void" else f"    return {call}")
    text = "\n".join(lines) + "\n"
    path = os.path.join("nncore", "_cython_kernels_forwarders.pxi")
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return  # unchanged: keep its time stamp, so nothing is rebuilt
    with open(path, "w") as f:
        f.write(text)


copy_header()
write_forwarders()

kernels_extension = Extension(
    KERNELS_MODULE,
    sources=["nncore/cython_kernels.pyx"],  # and csrc/, compiled by BuildExt
    include_dirs=[CSRC],
    depends=glob(os.path.join(CSRC, "*.h")) + glob(os.path.join(CSRC, "*.c")),
)

core_extension = Extension(
    "nncore._core",
    sources=["nncore/_core.pyx"],
    include_dirs=[CSRC, np.get_include()],
    depends=[os.path.join(CSRC, "nncore.h")],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
)

setup(
    ext_modules=cythonize(
        [kernels_extension, core_extension],
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
