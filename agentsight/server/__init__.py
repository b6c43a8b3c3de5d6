"""The AgentSight collector: an aiohttp service that stores and serves conversations.

Needs the ``server`` extra (``pip install 'agentsight[server]'``) and is
started with ``agentsight serve``.  To embed it::

    storage = await open_storage("agentsight.db")
    app = create_app(storage, options=ServerOptions(rate_limit=RateLimit(20, burst=40)))
"""

from ._app import create_app
from ._options import RateLimit, ServerOptions
from .storage import Storage, StorageUnavailable, open_storage

__all__ = [
    "RateLimit",
    "ServerOptions",
    "Storage",
    "StorageUnavailable",
    "create_app",
    "open_storage",
]
