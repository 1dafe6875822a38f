"""asyncio shells: the sockets, the clock and the one timer each driver runs.

Everything protocol-shaped lives in the sans-IO layers below; the modules
here only move datagrams and bytes between them and the network.
"""
