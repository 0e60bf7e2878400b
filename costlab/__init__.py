"""costlab: offline LLM cost analysis and optimisation over your own request logs."""

__version__ = "0.1.0"
