"""One module per Kafka API, named by API key (k00_produce.py, k01_fetch.py, ...).

Every module here is imported on start-up so its `@handles` registration runs; adding
an API is adding a module.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("k"):
        importlib.import_module(f"{__name__}.{_module.name}")
