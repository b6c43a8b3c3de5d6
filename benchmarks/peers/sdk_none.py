"""No SDK: the loop case's tasks and ticker alone, the lag the workload itself causes."""

from __future__ import annotations

from workload import SyncAdapter


class Nothing(SyncAdapter):
    def track(self, cid: str) -> object:
        return None

    def flush(self) -> None:
        pass

    def stop(self) -> None:
        pass


def make(endpoint: str, key: str) -> Nothing:
    return Nothing()
