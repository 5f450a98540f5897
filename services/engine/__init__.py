"""The engine service: strategy, safety gates, rebalancing, commands and the event stream."""
