"""Integrations with the frameworks chatbots live in; each module needs its framework.

- ``agentsight.integrations.fastapi``: lifespan, per-request conversation
  dependency and middleware (``pip install 'agentsight[fastapi]'``).
- ``agentsight.integrations.aiogram``: aiogram 3 middleware for Telegram bots
  (``pip install 'agentsight[aiogram]'``).
- ``agentsight.integrations.llm``: token usage from OpenAI and Anthropic
  responses (no dependency: it reads objects or dicts).

Importing this package imports no framework; each module imports its own and
names the extra to install when it is missing.
"""

from __future__ import annotations

__all__: list[str] = []
