"""Free loopback ports for services that must keep their address across a restart."""

from services.launcher.ports import free_port, free_port_pair

__all__ = ["free_port", "free_port_pair"]
