"""The long-running worker that converges calendar mirrors."""

from syncd.worker.loop import Worker

__all__ = ["Worker"]
