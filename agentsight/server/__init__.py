"""The AgentSight collector: an aiohttp service that stores and serves conversations.

Needs the ``server`` extra (``pip install 'agentsight[server]'``) and is
started with ``agentsight serve``.  To embed it::

    storage = await open_storage("agentsight.db")
    app = create_app(storage, options=ServerOptions(store_raw_ip=False))
"""

from ._app import create_app
from ._options import ServerOptions
from .storage import Storage, StorageUnavailable, open_storage

__all__ = ["ServerOptions", "Storage", "StorageUnavailable", "create_app", "open_storage"]
