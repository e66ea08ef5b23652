"""Zstandard files as Python 3.14's ``compression.zstd`` reads them: the standard library's
from 3.14 on, its backport (``backports.zstd``, pinned in ``pyproject.toml``) before. A
:class:`ZstdFile` decompresses as it is read, like ``lzma.LZMAFile``."""

import sys

if sys.version_info >= (3, 14):
    from compression.zstd import ZstdError, ZstdFile
else:
    from backports.zstd import ZstdError, ZstdFile

__all__ = ["ZstdError", "ZstdFile"]
