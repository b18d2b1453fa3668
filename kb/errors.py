"""Errors a user can act on; each carries a Dutch message. Kept apart so the CLI can catch them without
importing Chroma or a model (`kb --help` stays fast)."""


class IndexMissing(RuntimeError):
    """No index has been built yet."""


class ModelMismatch(RuntimeError):
    """The index was built with another embedding model."""


class StoreUnavailable(RuntimeError):
    """The Chroma server cannot be reached."""


class IndexLocked(RuntimeError):
    """Another process is writing to the index (see kb.lock)."""
