"""The exceptions AgentSight raises.

The tree::

    AgentSightError
    ├── ValidationError (also ValueError)   a mistake in the calling code
    ├── ConfigurationError (also ValueError) a bad setting or environment variable
    └── APIError                             the collector refused a query call
        ├── AuthenticationError              401: missing, wrong or revoked key
        └── NotFoundError (also LookupError) 404

Tracking calls raise only ``ValidationError``, and only for mistakes the
calling code made (an empty ``conversation_id``, a negative token count).
Failures of the network or the collector never raise into a tracking call:
they are retried, counted in ``tracker.stats()`` and logged.

The official SDK 0.0.44's 18 exception names are aliases of these, so that
its ``except`` clauses keep working (``NotFoundException`` is
``NotFoundError``...).  Some of them name situations that ours never raise
for (``NoDataToSendException``: ours reports zero events), and
``ConversationNetworkException`` is ``APIError``, which ours raises for
query calls only.
"""

from __future__ import annotations

__all__ = [
    "APIError",
    "AgentSightApiJwtExpiredException",
    "AgentSightClientNotInitializedException",
    "ApiServerException",
    "ConversationApiException",
    "ConversationNetworkException",
    "ConversationTrackingException",
    "ForbiddenException",
    "InvalidAnswerDataException",
    "InvalidApiKeyException",
    "InvalidAttachmentException",
    "InvalidConversationDataException",
    "InvalidQuestionDataException",
    "MissingConversationIdException",
    "NoApiKeyException",
    "NoConversationIdException",
    "NoDataToSendException",
    "NotFoundException",
    "UnauthorizedException",
    "AgentSightError",
    "AuthenticationError",
    "ConfigurationError",
    "NotFoundError",
    "ValidationError",
]


class AgentSightError(Exception):
    """The root of every exception AgentSight raises on purpose."""


class ValidationError(AgentSightError, ValueError):
    """An argument of a call was not what the call expects.

    The message names the argument, what was expected and what arrived.
    """


class ConfigurationError(AgentSightError, ValueError):
    """A configuration value (keyword argument or ``AGENTSIGHT_*`` variable) is invalid."""


class APIError(AgentSightError):
    """The collector answered a query or management call with an error."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthenticationError(APIError):
    """The collector refused the API key (401)."""


class NotFoundError(APIError, LookupError):
    """The conversation (or other object) does not exist in this project (404)."""


# The official SDK 0.0.44's names (see the module docstring).  .. versionadded:: 0.3
NoApiKeyException = ConfigurationError
InvalidApiKeyException = ConfigurationError
AgentSightClientNotInitializedException = ConfigurationError
ConversationTrackingException = AgentSightError
InvalidConversationDataException = ValidationError
InvalidQuestionDataException = ValidationError
InvalidAnswerDataException = ValidationError
InvalidAttachmentException = ValidationError
MissingConversationIdException = ValidationError
NoConversationIdException = ValidationError
NoDataToSendException = AgentSightError
ConversationApiException = APIError
ConversationNetworkException = APIError
ApiServerException = APIError
AgentSightApiJwtExpiredException = AuthenticationError
UnauthorizedException = AuthenticationError
ForbiddenException = APIError
NotFoundException = NotFoundError
