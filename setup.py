"""Build script: the package metadata is in pyproject.toml; this adds the Cython cores."""

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup


def cython_module(name: str) -> Extension:
    """A NumPy-aware Cython extension ``name`` built from its ``.pyx`` beside the package's modules."""
    return Extension(
        name,
        [name.replace(".", "/") + ".pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"],
    )


extensions = [
    cython_module("tflite_serenity.schedule._dp"),  # the exact scheduler's search
    cython_module("tflite_serenity.learned._decode"),  # the learned policy's greedy decoding
    cython_module("tflite_serenity.learned._view"),  # the structure features of the policy's view
]

setup(ext_modules=cythonize(extensions, language_level=3, compiler_directives={"boundscheck": False, "wraparound": False}))
