"""kb: a knowledge base with hybrid search and cited answers over Dutch provincial policy documents.

The data path, one module per stage::

    sources -> extract -> chunk -> tag -> embed -> store (Chroma) + lexical (BM25)
            -> retrieve -> answer -> cli / ui

`kb.api.KnowledgeBase` is the library API that the CLI and the UI share.
"""
import os

# Nothing may reach the network at run time: no model hub, no telemetry. The
# encoder reads its thread count once per process, so it is set before any import.
for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": str(os.cpu_count() or 1),
}.items():
    os.environ.setdefault(_key, _value)

__version__ = "0.1.0"
