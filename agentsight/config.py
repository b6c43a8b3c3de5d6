"""The official SDK 0.0.44's ``agentsight.config``, for code written against it.

``Config`` is our ``TrackerConfig`` (``tracker.config``); ``API_KEY_PATTERN``
is their key check, which our keys pass (ours also carry a checksum, see
``docs/settings.md``).

.. versionadded:: 0.3
"""

from __future__ import annotations

import re

from ._config import TrackerConfig as Config

__all__ = ["API_KEY_PATTERN", "Config"]

#: The shape 0.0.44 checks keys against (case-insensitive).
API_KEY_PATTERN = re.compile(r"^ags_[a-f0-9]{32}_[a-f0-9]{6}$", re.IGNORECASE)
